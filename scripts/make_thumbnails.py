"""Render every example workflow with the runner and compose its thumbnail from the real output.

    python3 scripts/make_thumbnails.py [KEY ...] [--voynov-steps N]

For each example (scripts/build_examples.py: key, file name, labels) this writes

- ``example_workflows/<file name>.jpg``: the thumbnail ComfyUI's template browser shows beside the
  workflow, a 512 x 512 square (the browser's card is square): the images the workflow saves, tiled
  to fill it, each with its caption when the example gives labels;
- ``docs/<key>.png``: the same picture at 384 px for the README;
- ``docs/icon.png`` (256 px, the pack's icon) from the first example's faces.

Examples whose checkpoint is not in the models folder (the StyleGAN2, BigGAN and e4e ones on a
machine without those downloads) are rendered on the test stand-ins (tests/model_files.py: small
random networks from tests/data/oracles written under the same file names, a stand-in
input/example.png, with the widget overrides the tests use), and the picture says so in a banner:
what it shows is random, and which file gives real images.  The Voynov example trains for
--voynov-steps (default: the file's own 2,000), and the picture says how many.  Everything else runs
exactly as the file says.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import tempfile
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 512  # thumbnail side
DOCS_SIZE = 384  # README picture side
BACKGROUND = (24, 24, 28)
TEXT = (235, 235, 235)
BANNER = (176, 58, 46)


def import_pack():
    """The package from this checkout, whatever its folder is called."""
    if "gan_latent_lab" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gan_latent_lab", os.path.join(ROOT, "__init__.py"),
                                                      submodule_search_locations=[ROOT])
        module = importlib.util.module_from_spec(spec)
        sys.modules["gan_latent_lab"] = module
        spec.loader.exec_module(module)
    return sys.modules["gan_latent_lab"]


def builder():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import build_examples

    return build_examples


def font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable built-in font
    except TypeError:
        return ImageFont.load_default()


def tile(paths: list[str], max_width: int = 512, cols: int = 4):
    """The images side by side in a grid (``cols`` wide), at most ``max_width`` wide (the icon)."""
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    cols = min(len(images), cols)
    rows = math.ceil(len(images) / cols)
    w, h = images[0].size
    sheet = Image.new("RGB", (cols * w, rows * h))
    for i, im in enumerate(images):
        sheet.paste(im, ((i % cols) * w, (i // cols) * h))
    if sheet.width > max_width:
        sheet = sheet.resize((max_width, round(sheet.height * max_width / sheet.width)), Image.LANCZOS)
    return sheet


def _fit(im, box_w: int, box_h: int):
    from PIL import Image

    scale = min(box_w / im.width, box_h / im.height)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    # small GAN outputs (32 / 64 px) are enlarged a lot: keep their pixels crisp rather than blurred
    method = Image.NEAREST if scale >= 3 else Image.LANCZOS
    return im.resize(size, method)


def compose(paths: list[str], labels: list[str] | None = None, banner: list[str] | None = None,
            caption: str | None = None, size: int = SIZE):
    """A square picture: the saved images tiled to fill it (a grid for same-sized images, one row of
    equal heights otherwise), a caption under each tile, an optional banner on top and a caption line."""
    from PIL import Image, ImageDraw

    opened = [Image.open(p) for p in paths]
    still = [im for im in opened if getattr(im, "n_frames", 1) == 1] or opened  # frames, not the animation
    images = [im.convert("RGB") for im in still]
    labels = labels if labels and len(labels) == len(images) else None
    sheet = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    pad = size // 64
    small, big = font(size // 24), font(size // 20)
    top = 0
    if banner:
        band = pad * 2 + len(banner) * (size // 20 + pad)
        draw.rectangle([0, 0, size, band], fill=BANNER)
        for i, line in enumerate(banner):
            f = big
            for points in range(size // 20, 6, -1):  # shrink a long line until it fits
                f = font(points)
                if draw.textlength(line, font=f) <= size - 2 * pad:
                    break
            draw.text((size / 2, pad + i * (size // 20 + pad)), line, fill=(255, 255, 255), font=f, anchor="ma")
        top = band
    bottom = size - ((size // 24 + 2 * pad) if caption else 0)
    label_h = (size // 24 + pad) if labels else 0
    area_w, area_h = size - 2 * pad, bottom - top - 2 * pad
    if len({im.size for im in images}) == 1:
        n = len(images)
        best = None
        for cols in range(1, n + 1):  # the grid that shows the tiles largest
            rows = math.ceil(n / cols)
            side = min(area_w / cols, (area_h - rows * label_h) / rows * images[0].width / images[0].height)
            if best is None or side > best[0]:
                best = (side, cols, rows)
        _, cols, rows = best
        cell_w, cell_h = area_w // cols, area_h // rows
        cells = [(pad + (i % cols) * cell_w, top + pad + (i // cols) * cell_h, cell_w, cell_h) for i in range(n)]
    else:  # different pictures (a heatmap and a grid): a row or a column, whichever shows them larger
        ratios = [im.width / im.height for im in images]  # width / height
        row_h = min(area_w / sum(ratios), area_h - label_h)  # common height in a row
        col_w = min(area_w, min((area_h - len(images) * label_h) / sum(1 / r for r in ratios), area_w))
        if row_h * sum(ratios) * row_h >= sum(col_w * col_w / r for r in ratios):
            widths = [area_w * r / sum(ratios) for r in ratios]
            x, cells = pad, []
            for w in widths:
                cells.append((round(x), top + pad, round(w), area_h))
                x += w
        else:
            heights = [(area_h - len(images) * label_h) * (1 / r) / sum(1 / q for q in ratios) + label_h for r in ratios]
            y, cells = top + pad, []
            for h in heights:
                cells.append((pad, round(y), area_w, round(h)))
                y += h
    for i, (im, (x, y, w, h)) in enumerate(zip(images, cells)):
        fitted = _fit(im, w - pad, h - label_h - pad)
        ox = x + (w - fitted.width) // 2
        oy = y + (h - label_h - fitted.height) // 2
        sheet.paste(fitted, (ox, oy))
        if labels:
            f = small
            for points in range(size // 24, 6, -1):  # shrink a long caption until it fits its cell
                f = font(points)
                if draw.textlength(labels[i], font=f) <= w - pad:
                    break
            draw.text((x + w / 2, oy + fitted.height + pad // 2), labels[i], fill=TEXT, font=f, anchor="ma")
    if caption:
        draw.text((size / 2, bottom + pad), caption, fill=TEXT, font=small, anchor="ma")
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


def make(key: str, voynov_steps: int | None = None) -> None:
    import_pack()
    from gan_latent_lab import workflow
    from gan_latent_lab.atomic import atomic_write

    ex = builder().BY_KEY[key]
    wf = builder().path_of(key)
    # photos an example loads come from this repository's input/ folder (a user copies them into ComfyUI's)
    overrides, how, banner, caption, input_dir = {}, "as saved", None, None, os.path.join(ROOT, "input")
    with tempfile.TemporaryDirectory() as out:
        saved_env = os.environ.get("GAN_LATENT_LAB_MODELS")
        try:
            if key == "voynov_train_save_apply":
                os.environ["GAN_LATENT_LAB_MODELS"] = os.path.join(out, "models")  # a fresh run, never resumed
                steps = voynov_steps or workflow.resolve(wf)["2"].inputs["steps"]
                overrides, how = {2: {"steps": steps}}, f"trained {steps} steps"
                caption = f"after {steps:,} training steps"
            elif needs_stand_in(wf):
                mf = stand_ins()
                mf.write_example_models(Path(out) / "models")
                mf.write_example_inputs(Path(out) / "input")
                os.environ["GAN_LATENT_LAB_MODELS"] = os.path.join(out, "models")
                input_dir = os.path.join(out, "input")
                overrides, how = mf.STANDIN_OVERRIDES.get(key, {}), "on the random test stand-in"
                banner = ["STAND-IN: a small random model", f"real images need {ex.needs}"]
            result = workflow.run(wf, os.path.join(out, "images"), overrides=overrides, input_dir=input_dir)
        finally:
            if saved_env is None:
                os.environ.pop("GAN_LATENT_LAB_MODELS", None)
            else:
                os.environ["GAN_LATENT_LAB_MODELS"] = saved_env
        if not result.images:
            print(f"{key}: saved no images, no thumbnail", file=sys.stderr)
            return
        sheet = compose(result.images, ex.labels, banner, caption)
        docs = compose(result.images, ex.labels, banner, caption, size=DOCS_SIZE)
        icon = tile(result.images[:4], max_width=256, cols=2) if ex.number == 1 else None
    jpg = os.path.splitext(wf)[0] + ".jpg"
    png = os.path.join(ROOT, "docs", key + ".png")
    with atomic_write(jpg, overwrite=True) as tmp:
        sheet.save(tmp, format="JPEG", quality=90)
    with atomic_write(png, overwrite=True) as tmp:
        docs.save(tmp, format="PNG", optimize=True)
    if icon is not None:
        with atomic_write(os.path.join(ROOT, "docs", "icon.png"), overwrite=True) as tmp:
            icon.save(tmp, format="PNG", optimize=True)
    print(f"{ex.stem} ({how}) -> {os.path.relpath(jpg, ROOT)}, {os.path.relpath(png, ROOT)}")


def main(argv: list[str]) -> int:
    steps = None
    if "--voynov-steps" in argv:
        i = argv.index("--voynov-steps")
        steps = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    keys = argv or [ex.key for ex in sorted(builder().EXAMPLES, key=lambda e: e.number)]
    for key in keys:
        make(key, steps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
