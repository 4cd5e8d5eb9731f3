"""Render every example workflow with the runner and save its real output as thumbnails.

    python3 scripts/make_thumbnails.py [NAME ...] [--voynov-steps N]

For example_workflows/NAME.json this writes example_workflows/NAME.jpg (the thumbnail ComfyUI's
template browser shows beside the workflow) and docs/NAME.png (a small PNG for the README): the
workflow's saved images tiled into one picture (at most 512 px wide), and docs/icon.png from the
first example.

Examples whose checkpoint is not in the models folder (the StyleGAN2, BigGAN and e4e ones on a
machine without those downloads) are rendered on the test stand-ins (tests/model_files.py: small
random networks from tests/data/oracles written under the same file names, a stand-in input/example.png,
with the widget overrides the tests use), and the script says so (on the picture itself for the
examples in STANDIN_CAPTIONS); the Voynov example trains for --voynov-steps (default 300) instead of
its 2000 steps. Everything else runs exactly as the file says.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import tempfile
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_pack():
    """The package from this checkout, whatever its folder is called."""
    if "gan_latent_lab" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gan_latent_lab", os.path.join(ROOT, "__init__.py"),
                                                      submodule_search_locations=[ROOT])
        module = importlib.util.module_from_spec(spec)
        sys.modules["gan_latent_lab"] = module
        spec.loader.exec_module(module)
    return sys.modules["gan_latent_lab"]


def tile(paths: list[str], max_width: int = 512, cols: int = 4):
    from PIL import Image

    opened = [Image.open(p) for p in paths]
    still = [im for im in opened if getattr(im, "n_frames", 1) == 1]
    images = [im.convert("RGB") for im in (still or opened)]
    if len({im.size for im in images}) > 1:  # different pictures (a heatmap and a grid): one row, equal heights
        h = max(im.height for im in images)
        images = [im.resize((round(im.width * h / im.height), h), Image.LANCZOS) for im in images]
        sheet = Image.new("RGB", (sum(im.width for im in images), h), "white")
        x = 0
        for im in images:
            sheet.paste(im, (x, 0))
            x += im.width
    else:
        cols = min(len(images), cols)
        rows = math.ceil(len(images) / cols)
        w, h = images[0].size
        sheet = Image.new("RGB", (cols * w, rows * h))
        for i, im in enumerate(images):
            sheet.paste(im, ((i % cols) * w, (i // cols) * h))
    if sheet.width > max_width:
        sheet = sheet.resize((max_width, round(sheet.height * max_width / sheet.width)), Image.LANCZOS)
    return sheet


def stand_ins():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import model_files

    return model_files


def needs_stand_in(wf: str) -> bool:
    """True when a Load GAN Model or Load Image Encoder node names a file that is not in the models folder."""
    from gan_latent_lab import workflow
    from gan_latent_lab.nodes import bridge

    for step in workflow.resolve(wf).values():
        kind, name = {"GANLabLoadModel": ("gan", step.inputs.get("model_name")),
                      "GANLabLoadImageEncoder": ("gan_encoders", step.inputs.get("encoder_name"))}.get(step.type, (None, None))
        if name and not name.startswith(bridge.BUILTIN_PREFIX) and bridge.full_path(kind, name) is None:
            return True
    return False


# Stand-in pictures that carry a caption on the thumbnail itself (its README row says so as well).
STANDIN_CAPTIONS = {"encode_and_edit": "STAND-IN: random encoder, 32 px decoder"}


def caption(sheet, text: str, min_width: int = 256):
    """The sheet (enlarged to ``min_width`` without smoothing) with ``text`` on a band below it."""
    from PIL import Image, ImageDraw

    if sheet.width < min_width:
        f = math.ceil(min_width / sheet.width)
        sheet = sheet.resize((sheet.width * f, sheet.height * f), Image.NEAREST)
    out = Image.new("RGB", (sheet.width, sheet.height + 18), "white")
    out.paste(sheet, (0, 0))
    ImageDraw.Draw(out).text((4, sheet.height + 3), text, fill="black")
    return out


def make(name: str, voynov_steps: int = 300) -> None:
    import_pack()
    from gan_latent_lab import workflow
    from gan_latent_lab.atomic import atomic_write

    wf = os.path.join(ROOT, "example_workflows", name + ".json")
    overrides, how, input_dir = {}, "as saved", None
    with tempfile.TemporaryDirectory() as out:
        saved_env = os.environ.get("GAN_LATENT_LAB_MODELS")
        try:
            if name == "voynov_train_save_apply":
                os.environ["GAN_LATENT_LAB_MODELS"] = os.path.join(out, "models")
                overrides, how = {2: {"steps": voynov_steps}}, f"trained {voynov_steps} steps"
            elif needs_stand_in(wf):
                mf = stand_ins()
                mf.write_example_models(Path(out) / "models")
                mf.write_example_inputs(Path(out) / "input")
                os.environ["GAN_LATENT_LAB_MODELS"] = os.path.join(out, "models")
                input_dir = os.path.join(out, "input")
                overrides, how = mf.STANDIN_OVERRIDES.get(name, {}), "on the random test stand-in"
            result = workflow.run(wf, os.path.join(out, "images"), overrides=overrides, input_dir=input_dir)
        finally:
            if saved_env is None:
                os.environ.pop("GAN_LATENT_LAB_MODELS", None)
            else:
                os.environ["GAN_LATENT_LAB_MODELS"] = saved_env
        if not result.images:
            print(f"{name}: saved no images, no thumbnail", file=sys.stderr)
            return
        sheet = tile(result.images)
        if how == "on the random test stand-in" and name in STANDIN_CAPTIONS:
            sheet = caption(sheet, STANDIN_CAPTIONS[name])
        icon = tile(result.images[:4], max_width=256, cols=2) if name == "sample_and_decode" else None
    jpg = os.path.join(ROOT, "example_workflows", name + ".jpg")
    png = os.path.join(ROOT, "docs", name + ".png")
    with atomic_write(jpg, overwrite=True) as tmp:
        sheet.save(tmp, format="JPEG", quality=90)
    with atomic_write(png, overwrite=True) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    if icon is not None:
        with atomic_write(os.path.join(ROOT, "docs", "icon.png"), overwrite=True) as tmp:
            icon.save(tmp, format="PNG", optimize=True)
    print(f"{name} ({how}): {sheet.size[0]}x{sheet.size[1]} -> {os.path.relpath(jpg, ROOT)}, "
          f"{os.path.relpath(png, ROOT)}")


def main(argv: list[str]) -> int:
    steps = 300
    if "--voynov-steps" in argv:
        i = argv.index("--voynov-steps")
        steps = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    names = argv or sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "example_workflows")) if f.endswith(".json"))
    for name in names:
        make(name, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
