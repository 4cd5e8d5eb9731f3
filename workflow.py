"""Run ComfyUI UI-format workflows without ComfyUI, and convert them to ComfyUI's API format.

Shared workflows are saved by the ComfyUI frontend: a ``nodes`` list (each with ``id``, ``type``,
``inputs`` carrying link ids, ``widgets_values``) and a ``links`` list of
``[link_id, from_node, from_slot, to_node, to_slot, type]``.  This module maps the widget values
onto each node's declared inputs the way the frontend does, follows the links, calls this pack's
node classes in dependency order and writes the images that SaveImage / PreviewImage would save.
It lets tests, benchmarks and the command line check the example workflows end to end, and its
API converter is what the real-ComfyUI test posts to ``/prompt``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from .errors import GANLabError

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
SEED_NAMES = ("seed", "noise_seed")
IGNORED_TYPES = ("Note", "MarkdownNote")  # comments only; Reroute and PrimitiveNode are resolved away
MODE_MUTED, MODE_BYPASS = 2, 4


# ----- reading the UI format ----------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """One edge: output ``from_slot`` of node ``from_id`` feeds input ``to_slot`` of ``to_id``."""

    id: int
    from_id: str
    from_slot: int
    to_id: str
    to_slot: int
    type: str


def load_workflow(source: str | os.PathLike | Mapping) -> dict:
    """A UI-format workflow from a path or an already parsed dict (checked for its two lists)."""
    if isinstance(source, Mapping):
        wf = dict(source)
        name = "<workflow>"
    else:
        name = os.path.basename(os.fspath(source))
        try:
            with open(source, encoding="utf-8") as f:
                wf = json.load(f)
        except OSError as e:
            raise GANLabError(f"cannot read workflow '{name}': {e.strerror or e}") from None
        except ValueError as e:
            raise GANLabError(f"workflow '{name}' is not valid JSON: {e}") from None
    if not isinstance(wf, dict) or not isinstance(wf.get("nodes"), list):
        if isinstance(wf, dict) and wf and all(isinstance(v, dict) and "class_type" in v for v in wf.values()):
            raise GANLabError(f"workflow '{name}' is in API format; the runner reads the UI format (with 'nodes')")
        raise GANLabError(f"workflow '{name}' has no 'nodes' list: not a ComfyUI UI-format workflow")
    return wf


def parse_links(wf: Mapping) -> dict[int, Link]:
    """Links by id; accepts the list form (v0.4) and the object form (schema v1)."""
    out = {}
    for raw in wf.get("links") or []:
        if isinstance(raw, dict):
            raw = [raw.get("id"), raw.get("origin_id"), raw.get("origin_slot"), raw.get("target_id"),
                   raw.get("target_slot"), raw.get("type")]
        if not isinstance(raw, (list, tuple)) or len(raw) < 5:
            raise GANLabError(f"workflow link {raw!r} is not [id, from_node, from_slot, to_node, to_slot, type]")
        link = Link(int(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]), str(raw[5]) if len(raw) > 5 else "*")
        out[link.id] = link
    return out


def _node_label(node: Mapping) -> str:
    return f"node {node.get('id')} ({node.get('type')})"


# ----- node definitions ---------------------------------------------------------------------
@dataclass
class NodeDef:
    """What the runner needs to know of a node type: its inputs, outputs and how to run it."""

    inputs: list[tuple[str, Any, dict, bool]]  # (name, type, options, required)
    outputs: tuple[str, ...]
    call: Callable[..., Any] | None = None
    output_node: bool = False

    def widget_slots(self) -> list[str | None]:
        """Input names in ``widgets_values`` order; None marks a seed's "fixed/increment/randomize" value."""
        slots: list[str | None] = []
        for name, typ, opts, _ in self.inputs:
            if not is_widget(typ, opts):
                continue
            slots.append(name)
            if typ == "INT" and (name in SEED_NAMES or opts.get("control_after_generate")):
                slots.append(None)
        return slots


def is_widget(typ: Any, opts: Mapping) -> bool:
    """Combo lists and the plain value types are widgets; everything else is a socket."""
    if opts.get("forceInput"):
        return False
    return isinstance(typ, (list, tuple)) or typ in WIDGET_TYPES


def pack_node_def(cls: type) -> NodeDef:
    """Read a pack node class's INPUT_TYPES (required, then optional) into a NodeDef."""
    spec = cls.INPUT_TYPES()
    inputs = []
    for section, required in (("required", True), ("optional", False)):
        for name, entry in (spec.get(section) or {}).items():
            typ = entry[0]
            opts = entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}
            inputs.append((name, typ, opts, required))

    def call(**kwargs):
        return getattr(cls(), cls.FUNCTION)(**kwargs)

    return NodeDef(inputs, tuple(cls.RETURN_TYPES), call, bool(getattr(cls, "OUTPUT_NODE", False)))


def input_folder(input_dir: str | os.PathLike | None = None) -> str:
    """Where LoadImage finds its files: ``input_dir``, else $GAN_LATENT_LAB_INPUT, else ``./input``
    (ComfyUI's own ``input/`` folder when run from its root)."""
    return os.fspath(input_dir or os.environ.get("GAN_LATENT_LAB_INPUT") or os.path.join(os.getcwd(), "input"))


def load_image(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    """An image file as ComfyUI's LoadImage gives it: IMAGE ``[frames, H, W, 3]`` in [0, 1] (EXIF orientation
    applied, alpha dropped) and MASK ``[frames, H, W]`` = 1 - alpha (a 64x64 zero mask without alpha).

    Untrusted files are bounded before they are decoded: the size the header declares, times the
    frames read so far, may not pass :data:`limits.IMAGE_MAX_PIXELS` (Pillow's own decompression-bomb
    check comes later and higher), nor the frames :data:`limits.IMAGE_MAX_FRAMES`.  Frames are kept
    as 8-bit arrays until all are read.  Any failure (not an image, truncated, a bomb, a malformed
    header) is our :class:`GANLabError` naming the file."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    name = os.path.basename(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower bound follows
            with Image.open(path) as im:
                return _read_frames(im, name)
    except GANLabError:
        raise
    except UnidentifiedImageError:
        raise GANLabError(f"'{name}' is not an image file that Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise GANLabError(f"image '{name}' declares more pixels than are read ({e})") from None
    except MemoryError:
        raise GANLabError(f"image '{name}' needs more memory than there is") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds on malformed files
        text = str(e).splitlines()[0][:200] if str(e) else ""
        raise GANLabError(f"cannot read image '{name}' ({type(e).__name__}: {text})") from None


def _read_frames(im, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    from PIL import ImageOps, ImageSequence

    from . import limits

    images, masks = [], []
    pixels = 0
    for index, frame in enumerate(ImageSequence.Iterator(im)):
        w, h = frame.size
        pixels += w * h
        if index >= limits.IMAGE_MAX_FRAMES:
            raise GANLabError(f"image '{name}' has more than {limits.IMAGE_MAX_FRAMES} frames")
        if pixels > limits.IMAGE_MAX_PIXELS:
            raise GANLabError(f"image '{name}' is {w}x{h} px{f' in {index + 1} frames' if index else ''}: at most "
                              f"{limits.IMAGE_MAX_PIXELS:,} pixels are read from one file")
        frame = ImageOps.exif_transpose(frame)
        if frame.mode == "I":
            frame = frame.point(lambda v: v * (1 / 255))
        rgb = frame.convert("RGB")
        if images and rgb.size != (images[0].shape[1], images[0].shape[0]):
            continue
        images.append(np.array(rgb, dtype=np.uint8))
        if "A" in frame.getbands():
            masks.append(np.array(frame.getchannel("A"), dtype=np.uint8))
        elif frame.mode == "P" and "transparency" in frame.info:
            masks.append(np.array(frame.convert("RGBA").getchannel("A"), dtype=np.uint8))
        else:
            masks.append(None)
    if not images:
        raise GANLabError(f"image '{name}' holds no frames")
    image = torch.stack([torch.from_numpy(a).float() / 255.0 for a in images])
    mask = torch.stack([torch.zeros(64, 64) if a is None else 1.0 - torch.from_numpy(a).float() / 255.0
                        for a in masks])
    return image, mask


def core_node_defs(out_dir: str, saved: list[str], input_dir: str | None = None) -> dict[str, NodeDef]:
    """The few core ComfyUI nodes the examples use, with file writing instead of a UI."""

    def save(images, filename_prefix="ComfyUI"):
        saved.extend(save_images(images, out_dir, filename_prefix))
        return ()

    def preview(images):
        saved.extend(save_images(images, out_dir, "preview"))
        return ()

    def save_animation(images, filename_prefix="ComfyUI", fps=6.0, compress_level=4):
        saved.append(save_animated_png(images, out_dir, filename_prefix, fps, compress_level))
        return ()

    def open_image(image, upload="image"):
        from .errors import InputError
        from .nodes.paths import safe_join

        if not isinstance(image, str):
            raise InputError(f"LoadImage: the image must be a file name, not {type(image).__name__}")
        root = input_folder(input_dir)
        try:
            path = safe_join(root, image)
        except GANLabError as e:
            raise InputError(f"LoadImage: {e}") from None
        if not os.path.isfile(path):
            raise GANLabError(f"LoadImage: no image {image[:200]!r} in {root}")
        try:
            return load_image(path)
        except GANLabError as e:
            raise GANLabError(f"LoadImage: {e}") from None

    return {
        "LoadImage": NodeDef([("image", "STRING", {}, True), ("upload", "STRING", {}, False)], ("IMAGE", "MASK"),
                             open_image),
        "SaveImage": NodeDef([("images", "IMAGE", {}, True), ("filename_prefix", "STRING", {}, True)], (), save, True),
        "SaveAnimatedPNG": NodeDef([("images", "IMAGE", {}, True), ("filename_prefix", "STRING", {}, True),
                                    ("fps", "FLOAT", {}, True), ("compress_level", "INT", {}, True)],
                                   (), save_animation, True),
        "PreviewImage": NodeDef([("images", "IMAGE", {}, True)], (), preview, True),
    }


def node_defs(out_dir: str = ".", saved: list[str] | None = None, input_dir: str | None = None) -> dict[str, NodeDef]:
    """Every node type the runner knows: this pack's classes plus the handled core nodes."""
    from . import NODE_CLASS_MAPPINGS

    defs = core_node_defs(out_dir, saved if saved is not None else [], input_dir)
    defs.update({k: pack_node_def(cls) for k, cls in NODE_CLASS_MAPPINGS.items()})
    return defs


# ----- images -------------------------------------------------------------------------------
def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """One IMAGE ``[H, W, C]`` in 0..1 -> uint8, scaled by 255 and truncated as ComfyUI's SaveImage does."""
    arr = image.detach().to("cpu", torch.float32).numpy()
    return np.clip(255.0 * arr, 0, 255).astype(np.uint8)


def _output_target(images, out_dir: str, prefix: str, node: str) -> tuple[str, str, int]:
    """Folder, file stem and next free counter for ComfyUI-style ``{stem}_{counter:05}_.png`` names."""
    from .nodes.paths import safe_join

    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise GANLabError(f"{node} expects an IMAGE batch [n, H, W, C], got {type(images).__name__}")
    target = safe_join(os.path.abspath(out_dir), prefix or "ComfyUI")
    folder, stem = os.path.dirname(target), os.path.basename(target)
    os.makedirs(folder, exist_ok=True)
    pattern = re.compile(re.escape(stem) + r"_(\d+)_\.png$")
    counter = max([int(m.group(1)) for f in os.listdir(folder) if (m := pattern.match(f))], default=0) + 1
    return folder, stem, counter


def save_animated_png(images: torch.Tensor, out_dir: str, prefix: str, fps: float = 6.0,
                      compress_level: int = 4) -> str:
    """Write a batch as one animated PNG (frames in batch order, looping), as ComfyUI's SaveAnimatedPNG does."""
    from PIL import Image

    from .atomic import atomic_write

    fps = float(fps)
    if not (math.isfinite(fps) and fps > 0):
        raise GANLabError(f"SaveAnimatedPNG: fps must be a positive number, not {fps}")
    folder, stem, counter = _output_target(images, out_dir, prefix, "SaveAnimatedPNG")
    frames = [Image.fromarray(image_to_uint8(img)) for img in images]
    path = os.path.join(folder, f"{stem}_{counter:05}_.png")
    with atomic_write(path) as tmp:
        frames[0].save(tmp, format="PNG", save_all=True, append_images=frames[1:], duration=round(1000.0 / fps),
                       loop=0, compress_level=int(compress_level))
    return path


def save_images(images: torch.Tensor, out_dir: str, prefix: str) -> list[str]:
    """Write a batch as ``{prefix}_{counter:05}_.png`` (ComfyUI's naming), never overwriting."""
    from PIL import Image

    from .atomic import atomic_write

    folder, stem, counter = _output_target(images, out_dir, prefix, "SaveImage")
    paths = []
    for img in images:
        path = os.path.join(folder, f"{stem}_{counter:05}_.png")
        with atomic_write(path) as tmp:
            Image.fromarray(image_to_uint8(img)).save(tmp, format="PNG", compress_level=4)
        paths.append(path)
        counter += 1
    return paths


# ----- resolving a workflow into calls ------------------------------------------------------
@dataclass
class Step:
    """One node to run: its type and inputs, each a literal value or a (from_id, slot) reference."""

    id: str
    type: str
    inputs: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, tuple[str, int]] = field(default_factory=dict)
    title: str | None = None


def _input_links(node: Mapping) -> dict[str, int]:
    """Input name -> link id for the node's connected inputs (sockets and converted widgets)."""
    out = {}
    for entry in node.get("inputs") or []:
        if isinstance(entry, dict) and entry.get("link") is not None:
            name = entry.get("name")
            if isinstance(entry.get("widget"), dict) and entry["widget"].get("name"):
                name = entry["widget"]["name"]
            out[str(name)] = int(entry["link"])
    return out


def _widget_values(node: Mapping, ndef: NodeDef) -> dict[str, Any]:
    values = node.get("widgets_values")
    slots = ndef.widget_slots()
    names = [n for n in slots if n is not None]
    if values is None:
        values = []
    if isinstance(values, dict):
        return {k: v for k, v in values.items() if k in names}
    if len(values) != len(slots):
        expected = ", ".join(n if n is not None else "<control_after_generate>" for n in slots) or "none"
        raise GANLabError(f"{_node_label(node)}: expected {len(slots)} widget values ({expected}), got {len(values)}: {values!r}")
    return {n: v for n, v in zip(slots, values) if n is not None}


@dataclass(frozen=True)
class _Literal:
    """A value a PrimitiveNode feeds into a converted widget (the frontend inlines it too)."""

    value: Any


class _Graph:
    """The UI graph with Reroute, bypassed and muted nodes resolved away."""

    def __init__(self, wf: Mapping, defs: Mapping[str, NodeDef]):
        self.defs = defs
        self.links = parse_links(wf)
        self.nodes = {str(n.get("id")): n for n in wf["nodes"] if isinstance(n, dict)}

    def source(self, link_id: int, want_type: str | None = None, depth: int = 0) -> tuple[str, int] | _Literal | None:
        """The real (from_id, slot) behind a link, looking through Reroute and bypassed nodes;
        a PrimitiveNode's value comes back as a literal."""
        link = self.links.get(link_id)
        if link is None:
            raise GANLabError(f"workflow refers to link {link_id}, which is not in its 'links' list")
        if depth > len(self.nodes):
            raise GANLabError("workflow has a cycle of Reroute / bypassed nodes")
        node = self.nodes.get(link.from_id)
        if node is None:
            raise GANLabError(f"link {link_id} comes from node {link.from_id}, which is not in the workflow")
        want = want_type or link.type
        if node.get("type") == "PrimitiveNode":
            values = node.get("widgets_values") or []
            if not values:
                raise GANLabError(f"{_node_label(node)}: has no value")
            return _Literal(values[0])
        if node.get("type") == "Reroute" or node.get("mode") == MODE_BYPASS:
            for name, lid in _input_links(node).items():
                up = self.links.get(lid)
                if node.get("type") == "Reroute" or (up is not None and up.type in (want, "*")):
                    return self.source(lid, want, depth + 1)
            return None
        if node.get("mode") == MODE_MUTED:
            return None
        return link.from_id, link.from_slot

    def steps(self) -> dict[str, Step]:
        out = {}
        for nid, node in self.nodes.items():
            typ = node.get("type")
            if typ in IGNORED_TYPES or typ in ("Reroute", "PrimitiveNode") or node.get("mode") in (MODE_MUTED, MODE_BYPASS):
                continue
            ndef = self.defs.get(typ)
            if ndef is None:
                raise GANLabError(f"{_node_label(node)}: unknown node type {typ!r}; this runner knows "
                                  f"{', '.join(sorted(self.defs))} (is a custom node pack missing?)")
            step = Step(nid, typ, title=node.get("title"))
            step.inputs = _widget_values(node, ndef)
            known = {name for name, *_ in ndef.inputs}
            for name, lid in _input_links(node).items():
                if name not in known:
                    raise GANLabError(f"{_node_label(node)}: has a link into input {name!r}, which {typ} does not have")
                src = self.source(lid)
                step.inputs.pop(name, None)
                if isinstance(src, _Literal):
                    step.inputs[name] = src.value
                elif src is not None:
                    step.refs[name] = src
            out[nid] = step
        return out


def resolve(workflow: str | os.PathLike | Mapping, defs: Mapping[str, NodeDef] | None = None) -> dict[str, Step]:
    """The workflow's executable nodes with their literal inputs and upstream references."""
    wf = load_workflow(workflow)
    return _Graph(wf, defs if defs is not None else node_defs()).steps()


def order(steps: Mapping[str, Step], defs: Mapping[str, NodeDef]) -> list[str]:
    """Node ids in dependency order, limited to what output nodes need (all nodes if none is one)."""
    outputs = [nid for nid, s in steps.items() if defs[s.type].output_node]
    wanted = set()
    stack = list(outputs or steps)
    while stack:
        nid = stack.pop()
        if nid in wanted:
            continue
        if nid not in steps:
            raise GANLabError(f"a link comes from node {nid}, which is not an executable node")
        wanted.add(nid)
        stack.extend(src for src, _ in steps[nid].refs.values())
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(nid: str) -> None:
        if state.get(nid) == 2:
            return
        if state.get(nid) == 1:
            raise GANLabError(f"workflow has a cycle through node {nid} ({steps[nid].type})")
        state[nid] = 1
        for src, _ in steps[nid].refs.values():
            visit(src)
        state[nid] = 2
        done.append(nid)

    for nid in sorted(wanted, key=_id_key):
        visit(nid)
    return done


def _id_key(nid: str) -> tuple[int, str]:
    return (int(nid), "") if nid.lstrip("-").isdigit() else (0, nid)


# ----- running ------------------------------------------------------------------------------
@dataclass
class RunResult:
    """What a run produced: every node's outputs by id, and the image files written."""

    outputs: dict[str, tuple] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)

    def output(self, node_id: int | str, slot: int = 0) -> Any:
        return self.outputs[str(node_id)][slot]


def _check_combos(step: Step, ndef: NodeDef) -> None:
    for name, typ, _, _ in ndef.inputs:
        if isinstance(typ, (list, tuple)) and name in step.inputs and step.inputs[name] not in typ:
            shown = ", ".join(map(repr, list(typ)[:8])) + (", ..." if len(typ) > 8 else "")
            raise GANLabError(f"node {step.id} ({step.type}): {name}={step.inputs[name]!r} is not one of {shown}")


def run(workflow: str | os.PathLike | Mapping, out_dir: str | os.PathLike = "out",
        overrides: Mapping[int | str, Mapping[str, Any]] | None = None,
        input_dir: str | os.PathLike | None = None) -> RunResult:
    """Execute a UI-format workflow with this pack's nodes; IMAGE outputs of SaveImage go to ``out_dir``.

    ``overrides`` replaces widget values: ``{node_id: {input_name: value}}``.  LoadImage reads from
    ``input_dir`` (see :func:`input_folder`).  A node that reads an output its node could not give
    (ComfyUI's ExecutionBlocker) is not run: the run stops with that output's message, as in ComfyUI."""
    from .nodes.bridge import blocked_message

    result = RunResult()
    defs = node_defs(os.fspath(out_dir), result.images, None if input_dir is None else os.fspath(input_dir))
    steps = resolve(workflow, defs)
    for nid, values in (overrides or {}).items():
        step = steps.get(str(nid))
        if step is None:
            raise GANLabError(f"override for node {nid}, which is not an executable node of the workflow")
        unknown = set(values) - {name for name, *_ in defs[step.type].inputs}
        if unknown:
            raise GANLabError(f"override for node {nid} ({step.type}) names unknown inputs {sorted(unknown)}")
        step.inputs.update(values)
        for name in values:
            step.refs.pop(name, None)
    for nid in order(steps, defs):
        step, ndef = steps[nid], defs[steps[nid].type]
        _check_combos(step, ndef)
        kwargs = dict(step.inputs)
        for name, (src, slot) in step.refs.items():
            produced = result.outputs[src]
            if slot >= len(produced):
                raise GANLabError(f"node {nid} ({step.type}) reads output {slot} of node {src}, which has {len(produced)}")
            kwargs[name] = produced[slot]
            message = blocked_message(kwargs[name])
            if message is not None:
                raise GANLabError(f"node {nid} ({step.type}): input {name!r} is blocked: {message}")
        missing = [name for name, _, _, req in ndef.inputs if req and name not in kwargs]
        if missing:
            raise GANLabError(f"node {nid} ({step.type}): required input(s) {', '.join(missing)} not connected or set")
        try:
            out = ndef.call(**kwargs)
        except GANLabError as e:
            e.args = (f"node {nid} ({step.type}): {e}",) + tuple(e.args[1:])
            raise
        if isinstance(out, dict):
            out = out.get("result", ())
        result.outputs[nid] = tuple(out) if out is not None else ()
    return result


# ----- API format ---------------------------------------------------------------------------
def to_api(workflow: str | os.PathLike | Mapping, defs: Mapping[str, NodeDef] | None = None) -> dict[str, dict]:
    """The workflow in ComfyUI's API format: ``{id: {class_type, inputs, _meta}}``, links as ``[from_id, slot]``."""
    from . import NODE_DISPLAY_NAME_MAPPINGS

    steps = resolve(workflow, defs)
    api = {}
    for nid, step in sorted(steps.items(), key=lambda kv: _id_key(kv[0])):
        inputs: dict[str, Any] = dict(step.inputs)
        inputs.update({name: [src, slot] for name, (src, slot) in step.refs.items()})
        title = step.title or NODE_DISPLAY_NAME_MAPPINGS.get(step.type, step.type)
        api[nid] = {"class_type": step.type, "inputs": inputs, "_meta": {"title": title}}
    return api


__all__ = ["load_workflow", "parse_links", "resolve", "order", "run", "to_api", "RunResult", "NodeDef",
           "save_images", "save_animated_png", "image_to_uint8", "load_image", "input_folder"]
