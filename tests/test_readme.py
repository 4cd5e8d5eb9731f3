"""README.md stays true: the node reference is the generated one, the set-up commands CI reads are
where .ci/run looks for them, and the examples and images it names are the ones on disk."""

from __future__ import annotations

import importlib.util
import re
import sys
import urllib.parse
from pathlib import Path

import pytest

import gan_latent_lab

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def text() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def ref():
    return load_script("node_reference")


def test_node_block_is_the_generated_one(ref):
    assert ref.readme_block(str(README)) == ref.render().strip(), (
        "README.md's node reference is stale: run python3 scripts/node_reference.py --write")


def test_render_does_not_depend_on_the_model_folders(ref, tmp_path, monkeypatch):
    first = ref.render()
    (tmp_path / "gan").mkdir()
    (tmp_path / "gan" / "some_model.pkl").write_bytes(b"x")
    (tmp_path / "gan_directions").mkdir()
    (tmp_path / "gan_directions" / "some_set.safetensors").write_bytes(b"x")
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    assert ref.render() == first
    assert "some_model" not in first and "some_set" not in first


def test_every_node_id_and_display_name_is_in_the_readme(text):
    for node_id, cls in gan_latent_lab.NODE_CLASS_MAPPINGS.items():
        assert f"`{node_id}`" in text, f"{node_id} is missing from README.md"
        assert gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS[node_id] in text


def test_check_mode_reports_a_stale_readme(ref, tmp_path, monkeypatch):
    stale = tmp_path / "README.md"
    stale.write_text(f"intro\n{ref.START}\nold text\n{ref.END}\noutro\n", encoding="utf-8")
    monkeypatch.setattr(ref, "README", str(stale))
    assert ref.main(["--check"]) == 1
    assert ref.write(str(stale)) is True
    assert ref.readme_block(str(stale)) == ref.render().strip()
    body = stale.read_text(encoding="utf-8")
    assert body.startswith("intro\n") and body.endswith(f"{ref.END}\noutro\n")
    assert ref.write(str(stale)) is False
    assert ref.main(["--check"]) == 0


@pytest.mark.parametrize("marker", ["<!-- test-command -->", "<!-- demo-command -->"])
def test_command_blocks_are_where_ci_reads_them(text, marker):
    lines = text.splitlines()
    assert lines.count(marker) == 1, f"README.md needs exactly one {marker}"
    i = lines.index(marker)
    assert lines[i + 1] == "```bash"
    command = lines[i + 2]
    assert command.startswith("python3 ") and "pip install" in command
    assert lines[i + 3] == "```"


def test_ci_reads_the_test_command(text):
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "<!-- test-command -->" in ci
    lines = text.splitlines()
    command = lines[lines.index("<!-- test-command -->") + 2]
    assert command.endswith("python3 -m pytest -q")


def test_images_named_in_the_readme_exist(text):
    for name in set(re.findall(r"docs/[\w./-]+\.png", text)):
        assert (ROOT / name).is_file(), f"README.md shows {name}, which does not exist"


def test_examples_named_in_the_readme_exist(text):
    names = set(re.findall(r"example_workflows/[\w./%-]+\.json", text))
    assert len(names) >= 7
    for name in names:
        assert (ROOT / urllib.parse.unquote(name)).is_file(), f"README.md names {name}, which does not exist"


# The example list is read from disk, so a new example workflow fails here until README shows it.
@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "example_workflows").glob("*.json")))
def test_every_example_on_disk_is_in_the_readme(text, example):
    block = text.split("<!-- examples:start -->", 1)[-1].split("<!-- examples:end -->", 1)[0]
    link = "example_workflows/" + urllib.parse.quote(example)
    assert f"]({link})" in block, f"{example} is not linked from README.md's examples"
