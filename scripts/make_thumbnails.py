"""Render every example workflow with the runner and save its real output as thumbnails.

    python3 scripts/make_thumbnails.py [NAME ...]

For example_workflows/NAME.json this writes example_workflows/NAME.jpg (the thumbnail ComfyUI's
template browser shows beside the workflow) and docs/NAME.png (a small PNG for the README): the
workflow's saved images tiled into one picture, each at most 256 px wide.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import tempfile

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


def tile(paths: list[str], max_width: int = 256):
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    cols = min(len(images), 4)
    rows = math.ceil(len(images) / cols)
    w, h = images[0].size
    sheet = Image.new("RGB", (cols * w, rows * h))
    for i, im in enumerate(images):
        sheet.paste(im, ((i % cols) * w, (i // cols) * h))
    if sheet.width > max_width:
        sheet = sheet.resize((max_width, round(sheet.height * max_width / sheet.width)), Image.LANCZOS)
    return sheet


def make(name: str) -> None:
    import_pack()
    from gan_latent_lab import workflow
    from gan_latent_lab.atomic import atomic_write

    wf = os.path.join(ROOT, "example_workflows", name + ".json")
    with tempfile.TemporaryDirectory() as out:
        result = workflow.run(wf, out)
        if not result.images:
            print(f"{name}: saved no images, no thumbnail", file=sys.stderr)
            return
        sheet = tile(result.images)
    jpg = os.path.join(ROOT, "example_workflows", name + ".jpg")
    png = os.path.join(ROOT, "docs", name + ".png")
    with atomic_write(jpg, overwrite=True) as tmp:
        sheet.save(tmp, format="JPEG", quality=90)
    with atomic_write(png, overwrite=True) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    print(f"{name}: {sheet.size[0]}x{sheet.size[1]} -> {os.path.relpath(jpg, ROOT)}, {os.path.relpath(png, ROOT)}")


def main(argv: list[str]) -> int:
    names = argv or sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "example_workflows")) if f.endswith(".json"))
    for name in names:
        make(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
