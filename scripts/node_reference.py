"""The README's node reference, generated from the node classes so it cannot drift from them.

    python3 scripts/node_reference.py            # print the reference
    python3 scripts/node_reference.py --write    # replace the block between the markers in README.md
    python3 scripts/node_reference.py --check    # exit 1 if README.md's block is stale

Walks ``NODE_CLASS_MAPPINGS`` / ``NODE_DISPLAY_NAME_MAPPINGS`` and renders, per CATEGORY, each
node's display name, id, DESCRIPTION, inputs (type or combo choices, default, range,
required / optional, tooltip) and outputs (name, type, tooltip).  Combo lists that come from files
on disk are rendered as a fixed phrase and the folders are read as empty while rendering, so the
output is the same on every machine.  tests/test_readme.py compares README.md with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from typing import Any, Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_thumbnails import import_pack  # noqa: E402 - the pack from this checkout, whatever its folder name
START, END = "<!-- nodes:start -->", "<!-- nodes:end -->"
TOOLTIP_LIMIT = 200

# Combo inputs whose choices are the files on this machine: shown as what they list, not the list.
FILE_COMBOS = {
    "model_name": "a checkpoint in `models/gan` (file or BigGAN folder) or a built-in model",
    "directions_name": "a `.safetensors`, `.npy`, `.npz` or `.pt` file in `models/gan_directions`",
    "encoder_name": "an e4e / pSp `.pt` checkpoint in `models/gan_encoders`",
    "run": "a `.voynov` run file in `models/gan_directions`",
    "file": "a `.pt` or `.pth` deformator file in `models/gan_directions`",
    "latent_name": "a latent file in `models/gan_latents` (`.safetensors`, `.npz`, `.npy`, `.pt`)",
    "vgg_file": "a VGG16 file in `models/gan_aux` (`vgg16-397923af.pth`, `vgg16.pt`), or `none (pixel + MS-SSIM)`",
    "lpips_weights": "`auto (vgg.pth in models/gan_aux, else the VGG16 file's own)` (default), "
                     "`none (uniform layer weights)`, or a file in `models/gan_aux`",
}


@contextlib.contextmanager
def empty_model_folders() -> Iterator[None]:
    """While rendering: every model folder lists nothing and no built-in model is installed."""
    import_pack()
    from gan_latent_lab.nodes import bridge, model_nodes

    saved = bridge.list_files, model_nodes.builtin_path
    bridge.list_files = lambda kind: []
    model_nodes.builtin_path = lambda label: None
    try:
        yield
    finally:
        bridge.list_files, model_nodes.builtin_path = saved


# ----- text helpers -------------------------------------------------------------------------------
def cell(text: Any) -> str:
    """Text for one Markdown table cell: one line, pipes escaped."""
    return re.sub(r"\s+", " ", str(text)).strip().replace("|", "\\|")


def shorten(text: str, limit: int = TOOLTIP_LIMIT) -> str:
    """Whole sentences up to ``limit`` characters; a first sentence that is longer is cut at a word."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= limit:
        return text
    out = ""
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9'\"(])", text):
        if len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}".strip()
    if not out:
        out = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return out


def number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def code(value: Any) -> str:
    return f"`{value}`" if str(value) else '`""`'


# ----- one input / output -------------------------------------------------------------------------
def input_row(name: str, spec: tuple, required: bool) -> str:
    kind = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    default, rng = "", ""
    if isinstance(kind, (list, tuple)):
        if name in FILE_COMBOS:
            typ = f"combo: {FILE_COMBOS[name]}"
        else:
            typ = "combo: " + ", ".join(code(c) for c in kind)
            default = code(opts.get("default", kind[0] if kind else ""))
    else:
        typ = code(kind)
        if "default" in opts:
            d = opts["default"]
            default = code(number(d)) if not isinstance(d, str) else code(d)
        if "min" in opts or "max" in opts:
            rng = f"{number(opts.get('min', '-∞'))} … {number(opts.get('max', '∞'))}"
            if kind == "FLOAT" and "step" in opts:
                rng += f", step {number(opts['step'])}"
    need = "required" if required else "optional"
    return (f"| `{name}` | {cell(typ)} | {cell(default) or '–'} | {cell(rng) or '–'} | {need} | "
            f"{cell(shorten(opts.get('tooltip', '')))} |")


def outputs(cls) -> list[str]:
    types = tuple(getattr(cls, "RETURN_TYPES", ()))
    names = tuple(getattr(cls, "RETURN_NAMES", ()) or ())
    tips = tuple(getattr(cls, "OUTPUT_TOOLTIPS", ()) or ())
    rows = []
    for i, typ in enumerate(types):
        name = names[i] if i < len(names) else str(typ)
        tip = tips[i] if i < len(tips) else ""
        rows.append(f"| `{cell(name)}` | `{cell(typ)}` | {cell(shorten(tip))} |")
    return rows


def render_node(node_id: str, cls, display: str) -> list[str]:
    lines = [f"#### {display} — `{node_id}`", ""]
    for para in str(getattr(cls, "DESCRIPTION", "") or "").split("\n"):
        if para.strip():
            lines += [re.sub(r"\s+", " ", para).strip(), ""]
    if getattr(cls, "OUTPUT_NODE", False):
        lines += ["Output node: it runs even when nothing is connected to its outputs.", ""]
    spec = cls.INPUT_TYPES()
    rows = [input_row(name, s, group == "required")
            for group in ("required", "optional") for name, s in (spec.get(group) or {}).items()]
    if rows:
        lines += ["| input | type | default | range | need | description |", "|---|---|---|---|---|---|", *rows, ""]
    out = outputs(cls)
    if out:
        lines += ["| output | type | description |", "|---|---|---|", *out, ""]
    return lines


def render() -> str:
    """The whole reference as Markdown (no trailing newline)."""
    pack = import_pack()
    classes, names = pack.NODE_CLASS_MAPPINGS, pack.NODE_DISPLAY_NAME_MAPPINGS
    by_category: dict[str, list[str]] = {}
    for node_id, cls in classes.items():
        by_category.setdefault(str(getattr(cls, "CATEGORY", "")), []).append(node_id)
    lines = ["<!-- generated by scripts/node_reference.py --write from the node classes; do not edit by hand -->", ""]
    with empty_model_folders():
        for category in sorted(by_category):
            ids = by_category[category]
            lines += [f"### {category}", "", "Nodes: " + ", ".join(f"{names.get(i, i)}" for i in ids) + ".", ""]
            for node_id in ids:
                lines += render_node(node_id, classes[node_id], names.get(node_id, node_id))
    return "\n".join(lines).rstrip()


# ----- README block -------------------------------------------------------------------------------
def split_readme(text: str) -> tuple[str, str, str]:
    """(before and including the start marker, the block, the end marker and after)."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(f"README.md must hold exactly one {START} ... {END} pair")
    head, rest = text.split(START, 1)
    block, tail = rest.split(END, 1)
    return head + START, block, END + tail


def readme_block(path: str | None = None) -> str:
    with open(path or README, encoding="utf-8") as f:
        return split_readme(f.read())[1].strip()


def write(path: str | None = None) -> bool:
    """Replace the block; True if the file changed."""
    path = path or README
    import_pack()
    from gan_latent_lab.atomic import atomic_write

    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, _, tail = split_readme(text)
    new = f"{head}\n{render()}\n{tail}"
    if new == text:
        return False
    mode = os.stat(path).st_mode & 0o777
    with atomic_write(path, overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(new)
        os.chmod(tmp, mode)  # the temporary file is created 0600; keep README's own mode
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="replace the node block in README.md")
    g.add_argument("--check", action="store_true", help="exit 1 if README.md's node block is stale")
    args = p.parse_args(argv)
    if args.write:
        print("README.md updated" if write() else "README.md already up to date")
        return 0
    if args.check:
        if readme_block() != render().strip():
            print("README.md's node reference is stale: run python3 scripts/node_reference.py --write", file=sys.stderr)
            return 1
        print("README.md's node reference is up to date")
        return 0
    print(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
