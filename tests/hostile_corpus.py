"""A corpus of hostile and broken checkpoint files, generated here, never shipped.

Each entry is ``(name, bytes)``.  Hostile pickles would write a sentinel file if any of their code
ran; loaders must refuse every one with our error naming the file."""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch

SENTINEL_NAME = "PWNED"


def tiny_dcgan_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A valid 8 px DCGAN state dict in the tutorial layout (z 8 -> 16 channels -> RGB)."""
    g = torch.Generator().manual_seed(seed)
    return {
        "main.0.weight": torch.randn(8, 16, 4, 4, generator=g),
        "main.1.weight": torch.rand(16, generator=g) + 0.5,
        "main.1.bias": torch.randn(16, generator=g),
        "main.1.running_mean": torch.randn(16, generator=g),
        "main.1.running_var": torch.rand(16, generator=g) + 0.5,
        "main.1.num_batches_tracked": torch.tensor(1),
        "main.3.weight": torch.randn(16, 3, 4, 4, generator=g),
    }


class _Reduce:
    """Pickles as ``func(*args)``: ``func`` is any importable callable."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _args_body(args: tuple, protocol: int) -> bytes:
    """Opcodes that push ``args`` as a tuple (a pickle of it without header, frame and STOP)."""
    blob = pickle.dumps(args, protocol=2)
    return blob[2:-1]


def _dump_global(module: str, name: str, *args, protocol: int = 2) -> bytes:
    """A pickle of ``{"G_ema": module.name(*args)}`` written opcode by opcode."""
    if protocol >= 4:
        ref = _unicode(module) + _unicode(name) + b"\x93"  # STACK_GLOBAL
    else:
        ref = b"c" + module.encode() + b"\n" + name.encode() + b"\n"  # GLOBAL
    return bytes([0x80, protocol]) + b"}" + _unicode("G_ema") + ref + _args_body(args, protocol) + b"Rs."


def _shell(sentinel: str) -> str:
    return f"touch {sentinel}"


def hostile_pickles(sentinel: str) -> list[tuple[str, bytes]]:
    cmd = _shell(sentinel)
    code = f"open({sentinel!r}, 'w').write('x')"
    out = [
        ("reduce_os_system.pkl", _dump_global("os", "system", cmd)),
        ("reduce_posix_system.pkl", _dump_global("posix", "system", cmd)),
        ("reduce_nt_system.pkl", _dump_global("nt", "system", cmd)),
        ("reduce_subprocess_popen.pkl", _dump_global("subprocess", "Popen", ["sh", "-c", cmd])),
        ("reduce_subprocess_call.pkl", _dump_global("subprocess", "call", cmd)),
        ("reduce_eval.pkl", _dump_global("builtins", "eval", code)),
        ("reduce_exec.pkl", _dump_global("builtins", "exec", code)),
        ("reduce_getattr.pkl", _dump_global("builtins", "getattr", 0, "__class__")),
        ("reduce_import.pkl", _dump_global("builtins", "__import__", "os")),
        ("reduce_importlib.pkl", _dump_global("importlib", "import_module", "os")),
        ("reduce_os_system_proto4.pkl", _dump_global("os", "system", cmd, protocol=4)),
        ("reduce_os_system_proto5.pkl", _dump_global("os", "system", cmd, protocol=5)),
        ("reduce_runpy.pkl", _dump_global("runpy", "run_path", sentinel)),
        ("text_protocol0_global.pkl", b"cos\nsystem\n(V" + cmd.encode() + b"\ntR."),
        ("torch_utils_unknown.pkl", _dump_global("torch_utils.misc", "run", cmd)),
        ("numpy_load_pickle.pkl", _dump_global("numpy", "load", sentinel)),
        ("torch_load_weights_off.pkl", _dump_global("torch", "load", sentinel)),
    ]
    # An NVlabs persistent object whose embedded module source writes the sentinel if executed.
    src = f"open({sentinel!r}, 'w').write('ran')\nclass Generator: pass\n"
    meta = dict(type="class", version=4, module_src=src, class_name="Generator",
                state={"_init_kwargs": {}, "_modules": {}, "_parameters": {}, "_buffers": {}})
    out.append(("nvlabs_module_src.pkl", _dump_global("torch_utils.persistence", "_reconstruct_persistent_obj", meta)))
    # numpy object arrays (would unpickle arbitrary objects)
    out.append(("numpy_object_array.pkl", pickle.dumps({"G_ema": np.array([1, "a", None], dtype=object)})))
    # memo-reference bomb: 30 levels of lists sharing references (2**30 leaves if expanded)
    bomb = ["x"]
    for _ in range(30):
        bomb = [bomb, bomb]
    out.append(("memo_bomb.pkl", pickle.dumps({"G_ema": bomb})))
    # deep nesting
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    out.append(("deep_nesting.pkl", _deep_pickle(50_000)))
    # a bytes object declaring 2**60 bytes
    out.append(("huge_bytes_decl.pkl", b"\x80\x04\x8e" + struct.pack("<Q", 2**60) + b"abc."))
    # a self-referencing cycle of dicts
    a: dict = {}
    a["self"] = a
    out.append(("cycle.pkl", pickle.dumps({"G_ema": a})))
    return out


def _deep_pickle(depth: int) -> bytes:
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def hostile_torch_files(sentinel: str) -> list[tuple[str, bytes]]:
    out = []
    for name, obj in [
        ("torch_zip_os_system.pt", {"netG_state_dict": _Reduce(os.system, _shell(sentinel))}),
        ("torch_zip_eval.pt", {"state_dict": _Reduce(eval, f"open({sentinel!r},'w')")}),
    ]:
        buf = io.BytesIO()
        torch.save(obj, buf)
        out.append((name, buf.getvalue()))
    buf = io.BytesIO()
    torch.save({"x": _Reduce(os.system, _shell(sentinel))}, buf, _use_new_zipfile_serialization=False)
    out.append(("torch_legacy_os_system.pth", buf.getvalue()))
    # tensors declaring absurd sizes
    good = io.BytesIO()
    torch.save({"main.0.weight": torch.zeros(4)}, good)
    out.append(("torch_absurd_numel.pt", _edit_data_pkl(good.getvalue(), b"K\x04t", b"J" + struct.pack("<i", 2**31 - 1) + b"t")))
    out.append(("torch_absurd_shape.pt", _edit_data_pkl(good.getvalue(), b"K\x04\x85q\x08K\x01",
                                                        b"J" + struct.pack("<i", 2**31 - 1) + b"\x85q\x08K\x01")))
    out.append(("torch_foreign_class.pt", _edit_data_pkl(good.getvalue(), b"ctorch._utils\n_rebuild_tensor_v2\n",
                                                         b"cos\nsystem\n" + b" " * 0)))
    out.append(("zip_without_data_pkl.pt", _zip({"archive/readme.txt": b"hello"})))
    out.append(("zip_truncated.pt", good.getvalue()[: len(good.getvalue()) // 2]))
    return out


def _edit_data_pkl(blob: bytes, old: bytes, new: bytes) -> bytes:
    zin = zipfile.ZipFile(io.BytesIO(blob))
    files = {}
    for n in zin.namelist():
        d = zin.read(n)
        if n.endswith("data.pkl"):
            assert old in d, (old, d[:80])
            d = d.replace(old, new, 1)
        files[n] = d
    return _zip(files)


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return out.getvalue()


def _safetensors(header, data: bytes = b"", length: int | None = None) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def broken_safetensors() -> list[tuple[str, bytes]]:
    t = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    return [
        ("st_header_longer_than_file.safetensors", _safetensors({"w": t}, b"\0" * 16, length=10_000)),
        ("st_header_not_json.safetensors", _safetensors(b"{not json at all", b"")),
        ("st_header_is_list.safetensors", _safetensors(b"[1, 2, 3]     ")),
        ("st_huge_header.safetensors", struct.pack("<Q", 2**40) + b"{" + b" " * 100),
        ("st_overlapping.safetensors", _safetensors({"a": t, "b": {**t, "data_offsets": [8, 24]}}, b"\0" * 24)),
        ("st_out_of_range.safetensors", _safetensors({"w": {**t, "data_offsets": [0, 1_000_000]}}, b"\0" * 16)),
        ("st_bad_dtype.safetensors", _safetensors({"w": {**t, "dtype": "Q99"}}, b"\0" * 16)),
        ("st_shape_mismatch.safetensors", _safetensors({"w": {**t, "shape": [1000, 1000]}}, b"\0" * 16)),
        ("st_negative_offsets.safetensors", _safetensors({"w": {**t, "data_offsets": [-16, 0]}}, b"\0" * 16)),
        ("st_absurd_shape.safetensors", _safetensors({"w": {**t, "shape": [2**40, 2**40]}}, b"\0" * 16)),
        ("st_metadata_not_strings.safetensors", _safetensors({"__metadata__": {"a": [1]}, "w": t}, b"\0" * 16)),
        ("st_valid_but_unknown_arch.safetensors", _safetensors({"w": t}, b"\0" * 16)),
        ("st_native_unknown_arch.safetensors", _safetensors(
            {"__metadata__": {"format": "gan-latent-lab", "arch": "no-such-gan", "config": "{}"}, "w": t}, b"\0" * 16)),
        ("st_native_bad_config.safetensors", _safetensors(
            {"__metadata__": {"format": "gan-latent-lab", "arch": "dcgan", "config": "{oops"}, "w": t}, b"\0" * 16)),
    ]


def misc_broken() -> list[tuple[str, bytes]]:
    npy = io.BytesIO()
    np.save(npy, np.zeros(3))
    return [
        ("empty.pt", b""),
        ("one_byte.pt", b"\x80"),
        ("text.pth", b"this is a text file, not a checkpoint\n" * 20),
        ("random.pkl", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))),
        ("array.npy", npy.getvalue()),
        ("html.safetensors", b"<!DOCTYPE html><html>404 not found</html>"),
    ]


def valid_fixtures() -> list[tuple[str, bytes]]:
    """The tiny DCGAN in every container we read (each loads fine)."""
    from safetensors.torch import save as st_save

    sd = tiny_dcgan_state()
    zip_buf, legacy_buf = io.BytesIO(), io.BytesIO()
    torch.save({"netG_state_dict": sd}, zip_buf)
    torch.save(collections.OrderedDict(sd), legacy_buf, _use_new_zipfile_serialization=False)
    return [("tiny.pt", zip_buf.getvalue()), ("tiny_legacy.pth", legacy_buf.getvalue()),
            ("tiny.safetensors", st_save(sd)), ("tiny.pkl", pickle.dumps({"netG_state_dict": dict(sd)}))]


def truncations(name: str, blob: bytes, count: int = 12) -> list[tuple[str, bytes]]:
    cuts = sorted({1, 8, 16, 64, len(blob) // 4, len(blob) // 2, len(blob) - 1,
                   *np.linspace(100, len(blob) - 2, count - 7).astype(int).tolist()})
    stem, ext = os.path.splitext(name)
    return [(f"{stem}_cut{c}{ext}", blob[:c]) for c in cuts if 0 < c < len(blob)]


def corpus(sentinel: str) -> list[tuple[str, bytes]]:
    """Every hostile or broken file that must be refused."""
    items = hostile_pickles(sentinel) + hostile_torch_files(sentinel) + broken_safetensors() + misc_broken()
    for name, blob in valid_fixtures():
        items += truncations(name, blob)
    return items
