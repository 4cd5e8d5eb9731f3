"""The example workflows in ComfyUI's real frontend, in a real (headless) browser.

ComfyUI starts with its own frontend (comfyui-frontend-package) and this pack linked into custom_nodes;
Playwright drives Debian's Chromium.  Through the UI: the template browser lists every example in
number order with its thumbnail; each example loads from its card with no missing node and every widget
showing the file's value; the examples that use the built-in model run from the Run button and their
images appear on the canvas.  The examples that need a download load on the test stand-ins (same
file names), and, as in tests/test_comfyui_e2e.py, GANSpace's samples and Voynov's steps are lowered
through their widgets before running (tests/model_files.py STANDIN_OVERRIDES).

Skipped unless COMFYUI_ROOT names a ComfyUI checkout set up with scripts/setup_comfyui.sh and
scripts/setup_browser.sh (the frontend and templates packages in ComfyUI's venv, Playwright here),
and a Chromium is at $CHROMIUM (default /usr/bin/chromium).  Uses ports from 8299, apart from
test_comfyui_e2e.py's 8199.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gan_latent_lab

ROOT = os.environ.get("COMFYUI_ROOT")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FIRST_PORT = 8299
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
READY_TIMEOUT_MS = 180_000
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 300_000

pytestmark = [
    pytest.mark.comfyui,
    pytest.mark.slow,
    pytest.mark.skipif(not ROOT, reason="set COMFYUI_ROOT to a ComfyUI checkout to run the real-browser tests"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="no Playwright: pip install playwright (scripts/setup_browser.sh)"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)"),
]

sys.path.insert(0, str(Path(__file__).resolve().parent))
import comfy_harness  # noqa: E402
from model_files import STANDIN_OVERRIDES, examples_builder, write_example_inputs, write_example_models  # noqa: E402

PACK = Path(gan_latent_lab.__file__).resolve().parent
EXAMPLES = sorted(examples_builder().EXAMPLES, key=lambda e: e.number)
FOLDER = "gan-latent-lab"  # the pack's folder in custom_nodes: the template browser's category


def _frontend_installed(python: str) -> str | None:
    """None if ComfyUI's python has the frontend and templates packages, else what is missing."""
    probe = subprocess.run([python, "-c", "import comfyui_frontend_package, comfyui_workflow_templates"],
                           capture_output=True, text=True, timeout=120)
    return None if probe.returncode == 0 else probe.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server():
    python = comfy_harness.comfy_python(ROOT)
    missing = _frontend_installed(python)
    if missing:
        pytest.skip(f"ComfyUI's python lacks the real frontend ({missing}): run scripts/setup_browser.sh")
    s = comfy_harness.ComfyServer(ROOT, str(PACK), folder_name=FOLDER, first_port=FIRST_PORT,
                                  front_end_root="installed")
    write_example_models(Path(s.base) / "models")  # the StyleGAN2 / BigGAN / e4e stand-ins the examples name
    write_example_inputs(Path(s.base) / "input")  # the example.png LoadImage opens
    with s:
        # a returning user: no first-run template dialog over the canvas
        status, _ = s.request("/settings/Comfy.TutorialCompleted", True)
        assert status == 200
        yield s


@pytest.fixture(scope="module")
def page(server):
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1600, "height": 1000})
            pg.set_default_timeout(UI_TIMEOUT_MS)
            pg.page_errors = []
            pg.on("pageerror", lambda e: pg.page_errors.append(str(e)))
            pg.goto(server.url("/"), timeout=READY_TIMEOUT_MS)
            pg.wait_for_function("window.app && window.app.vueAppReady === true && window.app.graph",
                                 timeout=READY_TIMEOUT_MS)
            # what the server sends while a graph runs: finished / failed prompts and preview images
            pg.evaluate("""() => {
                const seen = window.__gll = {success: [], errors: [], previews: []};
                app.api.addEventListener('execution_success', e => seen.success.push(e.detail.prompt_id));
                app.api.addEventListener('execution_error', e => seen.errors.push(e.detail));
                app.api.addEventListener('b_preview', async e => {
                    const bitmap = await createImageBitmap(e.detail);
                    seen.previews.push([bitmap.width, bitmap.height]);
                });
            }""")
            yield pg
        finally:
            browser.close()


def close_dialogs(page):
    """Escape, then wait until the dialog has gone: a command issued while it is still closing is lost."""
    page.keyboard.press("Escape")
    page.wait_for_function("document.querySelectorAll('.p-dialog').length === 0")


def open_templates(page):
    """Workflow > Browse Templates, then this pack's category; returns the cards."""
    close_dialogs(page)
    page.evaluate("app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    page.get_by_role("option", name=FOLDER, exact=True).click()
    cards = page.locator('[data-testid^="template-workflow-"]')
    page.wait_for_function(f"document.querySelectorAll('[data-testid^=\"template-workflow-\"]').length === {len(EXAMPLES)}")
    return cards


def load_example(page, ex):
    """Open the template browser and click the example's card; wait until its graph is on the canvas."""
    open_templates(page)
    page.locator(f'[data-testid="template-workflow-{ex.stem}"]').click()
    page.wait_for_function("""(ids) => app.graph && app.graph.nodes.length === ids.length
                                      && ids.every(id => app.graph.getNodeById(id))""",
                           arg=[n["id"] for n in saved(ex)["nodes"]])
    # the whole graph in view: the canvas loads a node's images only when it draws the node
    page.evaluate("app.extensionManager.command.execute('Comfy.Canvas.FitView')")
    page.wait_for_timeout(500)  # let the canvas settle (node sizes are computed on draw)


def saved(ex) -> dict:
    return json.loads((PACK / "example_workflows" / ex.filename).read_text(encoding="utf-8"))


def graph(page) -> list[dict]:
    return page.evaluate("""() => app.graph.nodes.map(n => ({
        id: n.id, type: n.type, title: n.title, registered: n.type in LiteGraph.registered_node_types,
        errors: !!n.has_errors, pos: [n.pos[0], n.pos[1]], size: [n.size[0], n.size[1]],
        widgets: (n.widgets || []).filter(w => !w.name.startsWith('$$')).map(w => [w.name, w.value]),
        images: (n.imgs || []).filter(i => i.complete && i.naturalWidth > 0).length}))""")


def same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def test_template_browser_lists_every_example_in_order_with_its_thumbnail(page, server):
    # ComfyUI lists the files in directory order; web/template_order.js (loaded as an extension) sorts them
    listed = server.get_json("/workflow_templates")[FOLDER]
    assert sorted(listed) == [ex.stem for ex in EXAMPLES]
    assert page.evaluate("app.extensions.some(e => e.name === 'GANLatentLab.TemplateOrder')")
    cards = open_templates(page)
    shown = [cards.nth(i).get_attribute("data-testid").removeprefix("template-workflow-") for i in range(cards.count())]
    assert shown == [ex.stem for ex in EXAMPLES], "the simplest example first, in number order"
    assert shown[0] == "01 Faces from seeds"
    for i, ex in enumerate(EXAMPLES):
        card = cards.nth(i)
        card.scroll_into_view_if_needed()
        assert card.get_by_role("heading").inner_text().strip() == ex.stem  # the title is the file name
        img = card.locator("img").first
        img.wait_for(state="attached")
        try:
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        except Exception as e:
            raise AssertionError(f"{ex.stem}: its thumbnail does not load ({img.get_attribute('src')})") from e
        assert img.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [512, 512], ex.stem
    close_dialogs(page)


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda e: e.key)
def test_example_loads_from_its_card_with_every_widget_value(page, ex):
    load_example(page, ex)
    wf = saved(ex)
    live = {n["id"]: n for n in graph(page)}
    names = gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS
    for node in wf["nodes"]:
        ui = live[node["id"]]
        assert ui["type"] == node["type"] and ui["registered"] and not ui["errors"], (ex.stem, ui)
        assert ui["title"] == node.get("title", names.get(node["type"], ui["title"])), (ex.stem, ui["title"])
        values = [v for _, v in ui["widgets"]]
        assert len(values) == len(node["widgets_values"]), (ex.stem, node["id"], ui["widgets"])
        for (name, shown), expected in zip(ui["widgets"], node["widgets_values"]):
            assert same(shown, expected), f"{ex.stem}: node {node['id']} widget {name} shows {shown!r}, file {expected!r}"
    assert page.evaluate("app.graph.links ? (app.graph.links.size ?? Object.keys(app.graph.links).length) : 0") \
        == len(wf["links"])
    assert not page.locator(".p-dialog:visible").count(), "a dialog (missing nodes or models?) is open"
    assert not [e for e in page.page_errors if "gan" in e.lower() or "template_order" in e]


def overlaps(nodes: list[dict], title_height: float = 30) -> list[tuple[int, int]]:
    boxes = [(n["id"], n["pos"][0], n["pos"][1] - title_height, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
             for n in nodes]
    return [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if not (a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2])]


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if e.needs is None], ids=lambda e: e.key)
def test_builtin_model_example_runs_from_the_run_button(page, ex):
    load_example(page, ex)
    for node_id, values in STANDIN_OVERRIDES.get(ex.key, {}).items():  # shorter runs, set like a user would
        page.evaluate("""([id, values]) => {
            const node = app.graph.getNodeById(id);
            for (const [name, value] of Object.entries(values)) node.widgets.find(w => w.name === name).value = value;
        }""", [node_id, values])
    before = page.evaluate("[window.__gll.success.length, window.__gll.errors.length, window.__gll.previews.length]")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function("""([s, e]) => window.__gll.success.length > s || window.__gll.errors.length > e""",
                           arg=before[:2], timeout=RUN_TIMEOUT_MS)
    errors = page.evaluate("window.__gll.errors")[before[1]:]
    assert not errors, f"{ex.stem} failed in ComfyUI: {json.dumps(errors)[:2000]}"
    outputs = [n["id"] for n in saved(ex)["nodes"] if n["type"] in ("SaveImage", "PreviewImage", "SaveAnimatedPNG")]
    page.wait_for_function("""(ids) => ids.every(id => {
            const n = app.graph.getNodeById(id);
            return n.imgs && n.imgs.length > 0 && n.imgs.every(i => i.complete && i.naturalWidth > 0);
        })""", arg=outputs, timeout=UI_TIMEOUT_MS)
    page.wait_for_timeout(500)
    live = graph(page)
    assert all(n["images"] > 0 for n in live if n["id"] in outputs)
    assert not overlaps(live), f"{ex.stem}: nodes overlap on the canvas after the run: {overlaps(live)} " + str([(n["id"], n["type"], n["pos"], n["size"]) for n in live])
    if ex.key == "voynov_train_save_apply":  # the live training preview arrives at a modest size
        previews = page.evaluate("window.__gll.previews")[before[2]:]
        assert previews and all(max(w, h) <= 220 for w, h in previews), previews
    shots = os.environ.get("GLL_SCREENSHOTS")  # a folder for a picture of each run, when debugging
    if shots:
        page.screenshot(path=os.path.join(shots, f"browser_{ex.key}.png"))
