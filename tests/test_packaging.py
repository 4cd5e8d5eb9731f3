"""How the pack is installed: pyproject.toml is valid for the Comfy registry (the rules of
docs.comfy.org/registry/specifications, and comfy-cli's own ``comfy node validate``), the archive
``comfy node pack`` builds (what the registry serves and ComfyUI-Manager unpacks into custom_nodes)
holds the pack and not the development files, and it imports from there under any folder name."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None


def pyproject() -> dict:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if tomllib is not None:
        return tomllib.loads(text)
    tomlkit = pytest.importorskip("tomlkit", reason="reading pyproject.toml on Python 3.10 needs tomlkit")
    return tomlkit.parse(text).unwrap()


def comfy_cli(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    """comfy-cli (the test extra installs it) with a private home, no prompts and no telemetry."""
    if importlib.util.find_spec("comfy_cli") is None:
        pytest.skip("comfy-cli is not installed (python3 -m pip install -e '.[test]')")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "NO_COLOR": "1",
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "comfy_cli", "--skip-prompt", "--no-enable-telemetry", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


# ----- the documented rules ------------------------------------------------------------------------
def test_project_section_follows_the_registry_rules():
    project = pyproject()["project"]
    name = project["name"]
    # < 100 characters; letters, digits, - _ .; no two special characters in a row; starts with a letter
    assert len(name) < 100 and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*", name), name
    assert "comfyui" not in name.lower()
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"]), "the registry wants X.Y.Z"
    assert project["description"] and project["requires-python"].startswith(">=")
    license_ = project["license"]
    assert license_ == "MIT" or (isinstance(license_, dict) and set(license_) & {"file", "text"})
    for classifier in project.get("classifiers", []):
        if classifier.startswith("Operating System :: "):
            assert classifier[len("Operating System :: "):].startswith(("Microsoft", "POSIX", "MacOS", "OS Independent"))
    # the runtime dependencies, mirrored by requirements.txt (what ComfyUI-Manager installs)
    reqs = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert reqs == project["dependencies"] == ["torch", "numpy", "safetensors", "pillow", "einops"]


def test_no_invented_urls():
    """The project has no public home yet: pyproject.toml and README.md name no repository URL."""
    data = pyproject()
    assert "urls" not in data["project"]
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8") + (ROOT / "README.md").read_text(encoding="utf-8")
    assert "github.com/gan-latent-lab" not in text
    assert not re.search(r"git clone https?://", text)


def test_tool_comfy_section_follows_the_registry_rules():
    comfy = pyproject()["tool"]["comfy"]
    assert set(comfy) <= {"PublisherId", "DisplayName", "Icon", "Banner", "requires-comfyui", "includes", "web",
                          "Models"}
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", comfy["PublisherId"])
    assert comfy["DisplayName"] == "GAN Latent Lab"
    for key in ("Icon", "Banner"):  # URLs to SVG / PNG / JPG / GIF files, when given
        if key in comfy:
            assert re.fullmatch(r"https://\S+\.(svg|png|jpg|jpeg|gif)", comfy[key], re.I), comfy[key]
    # comfy-cli's version rule: [operator]major.minor.patch[-suffix], comma separated
    part = r"(==|>=|<=|!=|~=|>|<|<>|=)?\s*\d+\.\d+\.\d+(-[A-Za-z0-9]+)?"
    assert all(re.fullmatch(part, p.strip()) for p in comfy["requires-comfyui"].split(","))
    assert all((ROOT / d).is_dir() for d in comfy.get("includes", []))


def test_the_icon_file_fits_the_registry():
    """docs/icon.png, what the Icon URL will point to: a square of at most 400 px."""
    with Image.open(ROOT / "docs" / "icon.png") as im:
        assert im.format == "PNG" and im.width == im.height <= 400


# ----- comfy-cli itself ------------------------------------------------------------------------------
def _tracked_copy(dest: Path) -> Path:
    """The files a publish would consider: git-tracked ones in a checkout, else the tree without caches."""
    files = None
    if (ROOT / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True)
        if out.returncode == 0:
            files = [f for f in out.stdout.decode().split("\0") if f]
    if files is None:
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
                 and not {"__pycache__", ".git", ".pytest_cache"} & set(p.relative_to(ROOT).parts)]
    for f in files:
        if (ROOT / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dest / f)
    return dest


def test_comfy_node_validate_passes_without_warnings(tmp_path):
    src = _tracked_copy(tmp_path / "pack")
    result = comfy_cli(["node", "validate"], src, tmp_path / "home")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "All validation checks passed" in out, out
    assert "Warning" not in out and "Error" not in out, out


def test_registry_archive_holds_the_pack_and_imports_from_custom_nodes(tmp_path):
    src = _tracked_copy(tmp_path / "pack")
    result = comfy_cli(["node", "pack"], src, tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(src / "node.zip") as z:
        names = set(z.namelist())
        for needed in ("__init__.py", "pyproject.toml", "requirements.txt", "LICENSE", "README.md",
                       "nodes/bridge.py", "loaders/base.py", "directions/sefa.py", "data/imagenet_classes.txt",
                       "example_workflows/01 Faces from seeds.json", "example_workflows/01 Faces from seeds.jpg",
                       "web/template_order.js", "docs/icon.png"):
            assert needed in names, f"{needed} is missing from the registry archive"
        assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/", ".ci/"))]
        # ComfyUI-Manager unpacks it into custom_nodes/<folder>; ComfyUI imports the folder as a package
        target = tmp_path / "custom_nodes" / "gan-latent-lab"
        z.extractall(target)
    spec = importlib.util.spec_from_file_location("_gll_from_archive", target / "__init__.py",
                                                  submodule_search_locations=[str(target)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        assert "GANLabLoadModel" in module.NODE_CLASS_MAPPINGS
        assert module.NODE_CLASS_MAPPINGS["GANLabLoadModel"].__module__.startswith("_gll_from_archive.")
    finally:
        for name in [n for n in sys.modules if n == spec.name or n.startswith(spec.name + ".")]:
            del sys.modules[name]
