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
from typing import Any

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


# =====================================================================================================
# Issue 17: the classes an independent attack found.  Names start with the class: c1_ numpy through the
# allow-list, c2_ tensor rebuilds, c3_ decompression bombs, c4_ configurations, c5_ format sniffing and
# dtypes, c6_ one error type (NaN weights, direction sets, latents), c8_ run files.  A name whose second
# part is dir_ / lat_ / run_ is read by the direction, latent or Voynov reader instead of load_gan.  A
# dict value is a folder (file name -> bytes).  EXPECT maps a name to a fragment the error must contain.
# =====================================================================================================
EXPECT: dict[str, str] = {}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
SYS_INFO = dict(protocol_version=1001, little_endian=True, type_sizes=dict(short=2, int=4, long=4))


def _case(out: list, name: str, data, expect: str | None = None) -> None:
    out.append((name, data))
    if expect:
        EXPECT[name] = expect


class _ReduceState:
    """Pickles as ``func(*args)`` followed by BUILD with ``state``."""

    def __init__(self, func, args, state):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args, self.state)


class _Storage:
    """Pickles as a storage persistent id ``('storage', torch.<type>, key, 'cpu', numel[, None])``."""

    def __init__(self, key: str = "0", numel: int = 4, type_name: str = "FloatStorage"):
        self.key, self.numel, self.type_name = key, numel, type_name


def _dump_storages(obj, legacy: bool = False, protocol: int = 2, pid=None) -> bytes:
    buf = io.BytesIO()

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _Storage):
                if pid is not None:
                    return pid
                return ("storage", getattr(torch, o.type_name), o.key, "cpu", o.numel) + ((None,) if legacy else ())
            return None

    P(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def _tensor(storage, offset=0, size=(2, 2), stride=(2, 1)):
    return _Reduce(torch._utils._rebuild_tensor_v2, storage, offset, tuple(size), tuple(stride), False,
                   collections.OrderedDict())


def _floats(n: int) -> bytes:
    return np.arange(n, dtype=np.float32).tobytes()


def torch_zip(obj, storages: dict, compress: int = zipfile.ZIP_STORED, data_pkl: bytes | None = None) -> bytes:
    """A torch zip written entry by entry: ``archive/data.pkl``, ``archive/data/<key>``, version, byteorder."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.pkl", data_pkl if data_pkl is not None else _dump_storages(obj))
        z.writestr("archive/byteorder", b"little")
        for key, data in storages.items():
            z.writestr(f"archive/data/{key}", data, compress_type=compress,
                       compresslevel=1 if compress == zipfile.ZIP_DEFLATED else None)
        z.writestr("archive/version", b"3\n")
    return out.getvalue()


def torch_legacy(obj, storages: dict, numel_header: int | None = None, sys_info=None, magic=LEGACY_MAGIC,
                 keys=None, protocol_version=1001, main: bytes | None = None, pid=None) -> bytes:
    """The legacy format: magic, protocol, sys info, main pickle, key list, then ``numel`` + data per key."""
    out = io.BytesIO()
    for x in (magic, protocol_version, SYS_INFO if sys_info is None else sys_info):
        pickle.dump(x, out, protocol=2)
    out.write(main if main is not None else _dump_storages(obj, legacy=True, pid=pid))
    pickle.dump(sorted(storages) if keys is None else keys, out, protocol=2)
    for key in sorted(storages):
        data, numel = storages[key]
        out.write(struct.pack("<q", numel if numel_header is None else numel_header))
        out.write(data)
    return out.getvalue()


def _payload(numel: int = 4, data: bytes | None = None, type_name: str = "FloatStorage", **kw) -> bytes:
    """One ``torch.storage._load_from_bytes`` payload: a legacy stream whose main object is a storage."""
    data = _floats(numel) if data is None else data
    return torch_legacy(_Storage("0", numel, type_name), {"0": (data, numel)}, **kw)


def _in_pickle(obj, protocol: int = 4) -> bytes:
    return pickle.dumps({"G_ema": obj}, protocol=protocol)


def _lazy_tensor(payload: bytes, offset=0, size=(4,), stride=(1,)):
    return _tensor(_Reduce(torch.storage._load_from_bytes, payload), offset, size, stride)


# ----- class 1: numpy through the allow-list --------------------------------------------------------
_MULTIARRAY = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
_GOOD_DTYPE_STATE = (3, "<", None, None, None, -1, -1, 0)


def _dtype(name="f4", state=_GOOD_DTYPE_STATE):
    return _ReduceState(np.dtype, (name, False, True), state)


def _array(dtype, shape=(1,), raw=b"\0" * 4, version=1):
    return _ReduceState(_MULTIARRAY._reconstruct, (np.ndarray, (0,), b"b"), (version, shape, dtype, False, raw))


def numpy_cases() -> list:
    out: list = []
    far = {"a": (np.dtype("f8"), 10**9)}
    states = {
        "field_offset_far": (3, "<", None, ("a",), far, 8, 1, 0),
        "field_offset_small": (3, "<", None, ("a",), {"a": (np.dtype("i8"), 64)}, 8, 1, 0),
        "fields_only": (3, "<", None, None, far, -1, -1, 0),
        "names_only": (3, "<", None, ("a", "b"), None, -1, -1, 0),
        "subarray": (3, "<", (np.dtype("f4"), (10**6,)), None, None, -1, -1, 0),
        "elsize_huge": (3, "|", None, None, None, 10**9, -1, 0),
        "alignment_odd": (3, "<", None, None, None, -1, 7, 0),
        "flags_pyapi": (3, "<", None, None, None, -1, -1, 0x10),
        "metadata": (4, "<", None, None, None, -1, -1, 0, {"evil": 1}),
        "version_99": (99, "<", None, None, None, -1, -1, 0),
        "byteorder_x": (3, "x", None, None, None, -1, -1, 0),
        "short_state": (3, "<"),
        "state_not_tuple": {"byteorder": "<"},
    }
    for tag, state in states.items():
        _case(out, f"c1_dtype_{tag}.pkl", _in_pickle(_array(_dtype("f8" if "field" in tag else "f4", state),
                                                            raw=b"\0" * 8)), "numpy")
    for tag, state in [("field_offset_far", states["field_offset_far"]), ("subarray", states["subarray"])]:
        _case(out, f"c1_bare_dtype_{tag}.pkl", _in_pickle({"kind": _dtype("f8", state)}), "numpy")
    for tag, name in [("void", "V8"), ("object", "O"), ("object8", "O8"), ("complex64", "c8"), ("complex128", "c16"),
                      ("longdouble", "g"), ("float128", "f16"), ("unicode", "U4"), ("bytes", "S4"),
                      ("datetime", "M8[s]"), ("timedelta", "m8"), ("ordered_f4", "<f4"), ("structured", "i4,i4"),
                      ("char_e", "e"), ("not_str", 4)]:
        _case(out, f"c1_dtype_type_{tag}.pkl", _in_pickle(_array(_dtype(name))), "numpy dtype")
    good = _dtype("f4")
    _case(out, "c1_array_bytes_short.pkl", _in_pickle(_array(good, shape=(1000,), raw=b"\0" * 4)), "does not match")
    _case(out, "c1_array_bytes_long.pkl", _in_pickle(_array(good, shape=(1,), raw=b"\0" * 64)), "does not match")
    _case(out, "c1_array_negative_shape.pkl", _in_pickle(_array(good, shape=(-1,))), "shape")
    _case(out, "c1_array_shape_int.pkl", _in_pickle(_array(good, shape=7)), "shape")
    _case(out, "c1_array_shape_huge.pkl", _in_pickle(_array(good, shape=(2**40, 2**40))), "does not match")
    _case(out, "c1_array_raw_list.pkl", _in_pickle(_array(good, raw=[1, 2, 3])), "raw bytes")
    _case(out, "c1_array_dtype_str.pkl", _in_pickle(_array("f4")), "dtype")
    _case(out, "c1_array_state_short.pkl", _in_pickle(_ReduceState(
        _MULTIARRAY._reconstruct, (np.ndarray, (0,), b"b"), (1, (1,)))), "numpy array state")
    _case(out, "c1_scalar_wrong_length.pkl", _in_pickle(_Reduce(_MULTIARRAY.scalar, good, b"\0" * 9)), "scalar")
    _case(out, "c1_scalar_str_data.pkl", _in_pickle(_Reduce(_MULTIARRAY.scalar, good, "abcd")), "scalar")
    _case(out, "c1_scalar_object_dtype.pkl", _in_pickle(_Reduce(_MULTIARRAY.scalar, _dtype("O"), b"\0" * 8)),
          "numpy dtype")
    # opcode-level: BUILD on the ndarray global itself, NEWOBJ of it, and _reconstruct of a subclass
    head = b"\x80\x02}X\x05\x00\x00\x00G_ema"
    _case(out, "c1_build_on_ndarray_global.pkl", head + b"cnumpy\nndarray\n}X\x01\x00\x00\x00aK\x01sbs.", "state")
    _case(out, "c1_newobj_ndarray.pkl", head + b"cnumpy\nndarray\nK\x05\x85\x81s.", "ndarray")
    _case(out, "c1_reconstruct_subclass.pkl", head + b"cnumpy.core.multiarray\n_reconstruct\n"
          b"cdnnlib.util\nEasyDict\nK\x00\x85C\x01b\x87Rs.", "subclass")
    # the attack as found: a numpy scalar with such a dtype in an NVlabs generator's init kwargs, where
    # reading it (.item(), repr) would read memory past the buffer
    from model_files import oracle

    sd2, _, meta2 = oracle("stylegan2_cond16")
    for tag in ("field_offset_far", "field_offset_small", "subarray", "elsize_huge"):
        evil = _Reduce(_MULTIARRAY.scalar, _dtype("f8", states[tag]), b"\0" * 8)
        _case(out, f"c1_init_kwargs_scalar_{tag}.pkl", nvlabs_pickle_bytes(sd2, {**meta2["init_kwargs"], "conv_clamp": evil}),
              "numpy")
    _case(out, "c1_masked_array.pkl", _in_pickle(np.ma.masked_array([1.0, 2.0], mask=[0, 1])), "numpy.ma")
    return out


def dcgan_with_view(kind: str, numel: int, offset: int) -> bytes:
    """The tiny DCGAN whose ``main.3.weight`` [16, 3, 4, 4] is a view at ``offset`` of a ``numel``-element storage."""
    sd = tiny_dcgan_state()
    storages, tensors = {}, {}
    for i, (key, t) in enumerate(sd.items()):
        t = t.contiguous()
        n = numel if key == "main.3.weight" else t.numel()
        type_name = {torch.float32: "FloatStorage", torch.int64: "LongStorage"}[t.dtype]
        raw = t.reshape(-1).numpy().tobytes()
        raw = (raw + bytes(n * t.element_size()))[: n * t.element_size()]
        st = _Storage(str(i), n, type_name)
        storages[str(i)] = raw
        stride = tuple(torch.empty(t.shape).stride())
        tensors[key] = _tensor(st, offset if key == "main.3.weight" else 0, tuple(t.shape), stride)
        if kind == "pickle":
            payload = torch_legacy(_Storage("0", n, type_name), {"0": (raw, n)})
            tensors[key] = _tensor(_Reduce(torch.storage._load_from_bytes, payload),
                                   offset if key == "main.3.weight" else 0, tuple(t.shape), stride)
    if kind == "pickle":
        return pickle.dumps({"netG_state_dict": tensors}, protocol=4)
    if kind == "zip":
        return torch_zip({"netG_state_dict": tensors}, storages)
    return torch_legacy(tensors, {k: (v, len(v) // (8 if k == "5" else 4)) for k, v in storages.items()})


# ----- class 2: tensor rebuilds (pickles, torch zip, legacy torch) --------------------------------
VIEW_ATTACKS = {  # (offset, size, stride) on a storage of 4 floats
    "offset_past_end": (100, (2, 2), (2, 1)),
    "size_past_end": (0, (3, 3), (3, 1)),
    "stride_past_end": (0, (2, 2), (4, 1)),
    "stride0_expand_gb": (0, (1 << 15, 1 << 15), (0, 0)),
    "negative_stride": (3, (4,), (-1,)),
    "negative_size": (0, (-4,), (1,)),
    "negative_offset": (-2, (4,), (1,)),
    "float_offset": (0.5, (4,), (1,)),
    "bool_size": (0, (True, True), (1, 1)),
    "huge_int_size": (0, (2**70,), (0,)),
    "rank_mismatch": (0, (2, 2), (1,)),
    "forty_dims": (0, (1,) * 40, (1,) * 40),
}


def tensor_cases() -> list:
    out: list = []
    # NVlabs style: torch._utils._rebuild_tensor_v2(torch.storage._load_from_bytes(<legacy bytes>), ...)
    pay = _payload(4)
    for tag, (off, size, stride) in VIEW_ATTACKS.items():
        _case(out, f"c2_pickle_{tag}.pkl", _in_pickle(_lazy_tensor(pay, off, size, stride)))
    EXPECT["c2_pickle_offset_past_end.pkl"] = EXPECT["c2_pickle_size_past_end.pkl"] = "does not hold"
    EXPECT["c2_pickle_stride0_expand_gb.pkl"] = "declare"
    payloads = {
        "wrong_magic": _payload(4, magic=12345),
        "wrong_protocol": _payload(4, protocol_version=7),
        "big_endian": _payload(4, sys_info={**SYS_INFO, "little_endian": False}),
        "numel_header_mismatch": _payload(4, numel_header=1 << 40),
        "data_truncated": _payload(4)[:-8],
        "data_trailing": _payload(4) + b"\0" * 16,
        "declared_larger": torch_legacy(_Storage("0", 1 << 30), {"0": (_floats(4), 1 << 30)}),
        "two_storages": torch_legacy([_Storage("0", 4), _Storage("1", 4)], {"0": (_floats(4), 4), "1": (_floats(4), 4)}),
        "main_is_dict": torch_legacy({"s": _Storage("0", 4)}, {"0": (_floats(4), 4)}),
        "complex_storage": _payload(2, data=_floats(4), type_name="ComplexFloatStorage"),
        "keys_mismatch": _payload(4, keys=["0", "9"]),
        "pid_short": _payload(4, pid=("storage", torch.FloatStorage, "0", "cpu")),
        "pid_type_str": _payload(4, pid=("storage", "FloatStorage", "0", "cpu", 4, None)),
        "pid_numel_float": _payload(4, pid=("storage", torch.FloatStorage, "0", "cpu", 4.0, None)),
        "header_global": _payload(4, sys_info=_Reduce(os.getcwd)),
        "empty": b"",
    }
    for tag, payload in payloads.items():
        _case(out, f"c2_payload_{tag}.pkl", _in_pickle(_lazy_tensor(payload)), "storage" if tag != "header_global" else "")
    _case(out, "c2_rebuild_on_int.pkl", _in_pickle(_tensor(7, 0, (1,), (1,))), "not a storage")
    _case(out, "c2_parameter_of_dict.pkl", _in_pickle(_Reduce(torch._utils._rebuild_parameter, {"a": 1}, False,
                                                              collections.OrderedDict())), "not a tensor")
    _case(out, "c2_load_from_bytes_str.pkl", _in_pickle(_Reduce(torch.storage._load_from_bytes, "text")), "bytes")
    _case(out, "c2_build_on_tensor.pkl", _in_pickle(_ReduceState(
        torch._utils._rebuild_tensor_v2, (_Reduce(torch.storage._load_from_bytes, pay), 0, (4,), (1,), False,
                                          collections.OrderedDict()),
        (_Reduce(torch.storage._load_from_bytes, pay), 100, (4,), (1,)))), "state")
    # the same views inside an otherwise valid DCGAN, in all three containers: without the checks torch
    # grows the storage and the uninitialised memory loads as weights
    for tag, (key_numel, off) in {"offset_past_end": (768, 100), "storage_too_small": (4, 0)}.items():
        for kind, ext in (("pickle", "pkl"), ("zip", "pt"), ("legacy", "pth")):
            _case(out, f"c2_dcgan_{kind}_{tag}.{ext}", dcgan_with_view(kind, key_numel, off), "does not hold")
    # torch zip: data.pkl names storages that data/<key> entries hold
    data4 = {"0": _floats(4)}
    for tag in ("offset_past_end", "size_past_end", "stride0_expand_gb", "negative_stride", "float_offset",
                "huge_int_size", "rank_mismatch", "forty_dims"):
        off, size, stride = VIEW_ATTACKS[tag]
        _case(out, f"c2_zip_{tag}.pt", torch_zip({"w": _tensor(_Storage("0", 4), off, size, stride)}, data4))
    EXPECT["c2_zip_offset_past_end.pt"] = EXPECT["c2_zip_size_past_end.pt"] = "does not hold"
    EXPECT["c2_zip_stride0_expand_gb.pt"] = "declare"
    st = _Storage("0", 4)
    _case(out, "c2_zip_entry_smaller.pt", torch_zip({"w": _tensor(_Storage("0", 1000), 0, (1000,), (1,))}, data4),
          "entry holds")
    _case(out, "c2_zip_entry_missing.pt", torch_zip({"w": _tensor(_Storage("7", 4), 0, (4,), (1,))}, data4), "no entry")
    _case(out, "c2_zip_key_twice.pt", torch_zip({"a": _tensor(st, 0, (4,), (1,)),
                                                 "b": _tensor(_Storage("0", 2), 0, (2,), (1,))}, data4), "twice")
    _case(out, "c2_zip_complex.pt", torch_zip({"w": _tensor(_Storage("0", 2, "ComplexFloatStorage"), 0, (2,), (1,))},
                                              data4), "complex")
    _case(out, "c2_zip_legacy_set.pt", torch_zip({"w": _ReduceState(torch.Tensor, (), (st, 100, (4,), (1,)))}, data4),
          "legacy BUILD")
    _case(out, "c2_zip_tensor_ctor.pt", torch_zip({"w": _Reduce(torch.FloatTensor, 1 << 34)}, data4), "constructor")
    _case(out, "c2_zip_storage_v3_wider.pt", torch_zip({"w": _Reduce(
        torch._utils._rebuild_tensor_v3, _Storage("0", 4, "ByteStorage"), 0, (1,), (1,), False,
        collections.OrderedDict(), torch.float64)}, {"0": b"\0" * 4}), "does not hold")
    for fn in ("_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_wrapper_subclass",
               "_rebuild_meta_tensor_no_storage", "_rebuild_nested_tensor", "_rebuild_device_tensor_from_numpy"):
        _case(out, f"c2_zip_{fn.strip('_')}.pt", torch_zip({"w": _Reduce(getattr(torch._utils, fn), 1, 2)}, data4), fn)
    _case(out, "c2_zip_pid_legacy_length.pt", torch_zip(None, data4, data_pkl=_dump_storages(
        {"w": _tensor(st, 0, (4,), (1,))}, legacy=True)), "persistent id")
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a/data.pkl", _dump_storages({"w": _tensor(st, 0, (4,), (1,))}))
        z.writestr("b/data.pkl", _dump_storages({"w": _tensor(st, 100, (4,), (1,))}))
        z.writestr("a/data/0", _floats(4))
    _case(out, "c2_zip_two_data_pkl.pt", two.getvalue(), "data.pkl")
    # legacy torch files (the whole file in the pre-zip format)
    leg4 = {"0": (_floats(4), 4)}
    for tag in ("offset_past_end", "size_past_end", "stride0_expand_gb", "negative_offset"):
        off, size, stride = VIEW_ATTACKS[tag]
        _case(out, f"c2_legacy_{tag}.pth", torch_legacy({"w": _tensor(st, off, size, stride)}, leg4))
    EXPECT["c2_legacy_offset_past_end.pth"] = "does not hold"
    EXPECT["c2_legacy_stride0_expand_gb.pth"] = "declare"
    good = {"w": _tensor(st, 0, (4,), (1,))}
    _case(out, "c2_legacy_numel_header.pth", torch_legacy(good, leg4, numel_header=1 << 40), "holds")
    _case(out, "c2_legacy_data_truncated.pth", torch_legacy(good, leg4)[:-6], "")
    _case(out, "c2_legacy_keys_extra.pth", torch_legacy(good, leg4, keys=["0", "1"]), "storage list")
    _case(out, "c2_legacy_big_endian.pth", torch_legacy(good, leg4, sys_info={**SYS_INFO, "little_endian": False}),
          "big-endian")
    _case(out, "c2_legacy_declared_huge.pth", torch_legacy({"w": _tensor(_Storage("0", 1 << 36), 0, (4,), (1,))},
                                                           {"0": (_floats(4), 1 << 36)}), "")
    return out


# ----- class 3: decompression bombs -----------------------------------------------------------------
BOMB_BYTES = 40 << 20  # inflates to 40 MiB from about 40 KiB: past 16x the file plus 16 MiB


def _lie_about_size(blob: bytes, entry: str, size: int) -> bytes:
    """Patch the central directory so that ``entry`` claims ``size`` uncompressed bytes."""
    data = bytearray(blob)
    name = entry.encode()
    pos = data.rfind(b"PK\x01\x02" + b"")
    while pos != -1:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46: pos + 46 + n]) == name:
            struct.pack_into("<I", data, pos + 24, size)
            return bytes(data)
        pos = data.rfind(b"PK\x01\x02", 0, pos)
    raise AssertionError(entry)


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _npy_header(descr: str, shape: tuple, fortran: bool = False, pad_to: int = 0) -> bytes:
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    header += b" " * max(0, pad_to - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header if len(header) < 65536 else \
        b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header


def _npz(entries: dict, compress: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d, compress_type=compress, compresslevel=1 if compress == zipfile.ZIP_DEFLATED else None)
    return out.getvalue()


def bomb_cases() -> list:
    out: list = []
    zeros = bytes(BOMB_BYTES)
    numel = BOMB_BYTES // 4
    _case(out, "c3_zip_deflate_bomb.pt", torch_zip({"w": _tensor(_Storage("0", numel), 0, (numel,), (1,))},
                                                   {"0": zeros}, compress=zipfile.ZIP_DEFLATED), "inflate")
    small = torch_zip({"w": _tensor(_Storage("0", 4), 0, (4,), (1,))}, {"0": _floats(4)})
    _case(out, "c3_zip_central_dir_lies.pt", _lie_about_size(small, "archive/data/0", 0xFFFFFFF0), "inflate")
    _case(out, "c3_zip_data_pkl_lies.pt", _lie_about_size(small, "archive/data.pkl", 0xFFFFFFF0), "inflate")
    _case(out, "c3_zip_bzip2.pt", torch_zip({"w": _tensor(_Storage("0", 4), 0, (4,), (1,))}, {"0": _floats(4)},
                                            compress=zipfile.ZIP_BZIP2), "compression method")
    _case(out, "c3_zip_lzma.pt", torch_zip({"w": _tensor(_Storage("0", 4), 0, (4,), (1,))}, {"0": _floats(4)},
                                           compress=zipfile.ZIP_LZMA), "compression method")
    comp = _npy(np.ones((2, 1, 4), np.float32))
    std = _npy(np.ones(2, np.float32))
    big = _npy_header("<f4", (numel,)) + zeros
    _case(out, "c3_dir_npz_deflate_bomb.npz", _npz({"lat_comp.npy": big, "lat_stdev.npy": std}, zipfile.ZIP_DEFLATED),
          "inflate")
    honest = _npz({"lat_comp.npy": comp, "lat_stdev.npy": std})
    _case(out, "c3_dir_npz_central_dir_lies.npz", _lie_about_size(honest, "lat_comp.npy", 0xFFFFFFF0), "inflate")
    _case(out, "c3_dir_npz_header_huge_shape.npz", _npz({"lat_comp.npy": _npy_header("<f4", (10**6, 1, 10**6)) + comp[-32:],
                                                         "lat_stdev.npy": std}), "declares")
    _case(out, "c3_dir_npz_object_dtype.npz", _npz({"lat_comp.npy": _npy_header("|O", (2,)) + b"\0" * 16,
                                                    "lat_stdev.npy": std}), "not read")
    _case(out, "c3_dir_npz_structured.npz", _npz({"lat_comp.npy": _npy_header("[('a', '<f4')]", (2,)) + b"\0" * 8,
                                                  "lat_stdev.npy": std}), "npy")
    _case(out, "c3_dir_npz_complex.npz", _npz({"lat_comp.npy": _npy(np.ones((2, 4), np.complex64)),
                                               "lat_stdev.npy": std}), "not read")
    _case(out, "c3_dir_npz_many_entries.npz", _npz({f"e{i}.npy": std for i in range(1500)}), "entries")
    _case(out, "c3_dir_npz_bzip2.npz", _npz({"lat_comp.npy": comp, "lat_stdev.npy": std}, zipfile.ZIP_BZIP2),
          "compression method")
    _case(out, "c3_dir_npy_header_huge.npy", _npy_header("<f4", (1, 2**40)) + b"\0" * 64, "declares")
    _case(out, "c3_dir_npy_header_too_long.npy", _npy_header("<f4", (1, 4), pad_to=70_000) + b"\0" * 16, "npy")
    _case(out, "c3_dir_npy_object.npy", _npy_header("|O", (1, 2)) + b"\0" * 16, "not read")
    _case(out, "c3_dir_npy_fortran_huge.npy", _npy_header("<f8", (2**31, 2**31), fortran=True) + b"\0" * 8, "declares")
    _case(out, "c3_dir_npy_shape_negative.npy", _npy_header("<f4", (1, -4)) + b"\0" * 16, "shape")
    return out


# ----- class 4: configurations -----------------------------------------------------------------------
def nvlabs_pickle_bytes(sd: dict, init_kwargs: dict, src: str | None = None) -> bytes:
    """An NVlabs snapshot (G, D, G_ema) of ``sd`` with these init kwargs, written as NVlabs tools write it."""
    from model_files import HARMLESS_SRC, persistent_tree, stand_in_modules

    with stand_in_modules() as ns:
        kw = ns.EasyDict({k: (ns.EasyDict(v) if isinstance(v, dict) else v) for k, v in init_kwargs.items()})
        g = persistent_tree(sd, ns, src or HARMLESS_SRC, "Generator", kw)
        return pickle.dumps({"G": g, "D": None, "G_ema": g, "augment_pipe": None}, protocol=4)


def _safetensors_bytes(sd: dict, metadata: dict | None = None) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in sd.items()}, metadata=metadata)


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def tiny_zoo_state() -> dict:
    from gan_latent_lab.loaders.pggan_zoo import ZooPGGAN

    cfg = {"latent_dim": 8, "depths": [8, 8], "dim_output": 3, "num_rgb": 2, "category_dim": 0, "leakyness": 0.2,
           "normalization": True, "equalized": True, "tanh": False}
    torch.manual_seed(0)
    return {k: v.clone() for k, v in ZooPGGAN(cfg).state_dict().items()}


def config_cases() -> list:
    from model_files import biggan_oracle, oracle

    out: list = []
    sd2, _, meta2 = oracle("stylegan2_cond16")
    kw2 = meta2["init_kwargs"]
    sg2 = {
        "z_dim_zero": {"z_dim": 0}, "z_dim_negative": {"z_dim": -1}, "z_dim_inf": {"z_dim": float("inf")},
        "z_dim_nan": {"z_dim": float("nan")}, "z_dim_text": {"z_dim": "24"}, "z_dim_huge": {"z_dim": 10**9},
        "w_dim_zero": {"w_dim": 0}, "c_dim_negative": {"c_dim": -5},
        "resolution_2e30": {"img_resolution": 2**30}, "resolution_inf": {"img_resolution": float("inf")},
        "resolution_12": {"img_resolution": 12}, "resolution_zero": {"img_resolution": 0},
        "img_channels_1000": {"img_channels": 1000}, "channel_max_negative": {"channel_max": -1},
        "channel_base_nan": {"channel_base": float("nan")}, "conv_clamp_negative": {"conv_clamp": -1.0},
        "conv_clamp_nan": {"conv_clamp": float("nan")}, "architecture_evil": {"architecture": "evil"},
        "resample_filter_20000_taps": {"resample_filter": [1.0] * 20000},
        "resample_filter_zero": {"resample_filter": [0.0, 0.0]}, "resample_filter_text": {"resample_filter": "1331"},
        "mapping_layers_1e9": {"mapping_kwargs": {"num_layers": 10**9}},
        "mapping_layers_negative": {"mapping_kwargs": {"num_layers": -1}},
        "mapping_lr_zero": {"mapping_kwargs": {"num_layers": 3, "lr_multiplier": 0.0}},
        "mapping_kwargs_list": {"mapping_kwargs": [1, 2]},
        "synthesis_kwargs_text": {"synthesis_kwargs": "x"},
        "kwargs_deeply_nested": {"extra": _nest(300)},
    }
    fields = {"resolution": "img_resolution", "mapping_layers": "mapping_layers", "mapping_lr": "mapping_lr_mul",
              "resample_filter": "resample_filter", "architecture": "architecture", "kwargs": "", "z_dim": "z_dim",
              "w_dim": "w_dim", "c_dim": "c_dim", "img_channels": "img_channels", "channel_max": "channel_max",
              "channel_base": "channel_base", "conv_clamp": "conv_clamp"}
    for tag, change in sg2.items():
        field = next((f for k, f in fields.items() if tag.startswith(k)), "")
        _case(out, f"c4_nvlabs_sg2_{tag}.pkl", nvlabs_pickle_bytes(sd2, {**kw2, **change}), field)
    sd3, _, meta3 = oracle("stylegan3t_uncond16")
    kw3 = meta3["init_kwargs"]
    sg3 = {"filter_size_20000": {"filter_size": 20000}, "num_layers_1e9": {"num_layers": 10**9},
           "num_critical_99": {"num_critical": 99}, "margin_size_1e9": {"margin_size": 10**9},
           "resolution_2e30": {"img_resolution": 2**30}, "first_cutoff_zero": {"first_cutoff": 0.0},
           "magnitude_ema_beta_nan": {"magnitude_ema_beta": float("nan")}, "conv_kernel_1001": {"conv_kernel": 1001},
           "lrelu_upsampling_1e6": {"lrelu_upsampling": 10**6}, "channel_base_inf": {"channel_base": float("inf")},
           "synthesis_kwargs_list": {"synthesis_kwargs": [1]}}
    for tag, change in sg3.items():
        field = {"resolution_2e30": "img_resolution", "synthesis_kwargs_list": "synthesis_kwargs"}.get(
            tag, "_".join(p for p in tag.split("_") if not p[0].isdigit() and p not in ("zero", "nan", "inf", "1e9",
                                                                                        "1e6", "list")))
        _case(out, f"c4_nvlabs_sg3_{tag}.pkl", nvlabs_pickle_bytes(sd3, {**kw3, **change}, "class SynthesisInput: pass\n"),
              field)
    # a bare StyleGAN2 state dict with a config.json beside it
    bare = _safetensors_bytes(sd2)
    side = {"z_dim_zero": {"z_dim": 0}, "resolution_2e30": {"img_resolution": 2**30},
            "mapping_layers_1e9": {"mapping_layers": 10**9}, "channel_max_text": {"channel_max": "big"},
            "init_kwargs_text": {"init_kwargs": "x"}}
    for tag, cfg in side.items():
        field = {"z_dim_zero": "z_dim", "resolution_2e30": "img_resolution", "mapping_layers_1e9": "mapping_layers",
                 "channel_max_text": "channel_max", "init_kwargs_text": "init_kwargs"}[tag]
        _case(out, f"c4_sidecar_sg2_{tag}", {"model.safetensors": bare, "config.json": json.dumps(cfg).encode()}, field)
    for tag, text in {"json_nested_10000": _deep_json(10_000), "json_nested_40": '{"a":' * 40 + "1" + "}" * 40,
                      "json_nan": '{"z_dim": NaN}', "json_infinity": '{"img_resolution": Infinity}',
                      "json_list": "[1, 2, 3]", "json_truncated": '{"z_dim": 2', "json_17mib": " " * (17 << 20) + "{}",
                      "json_not_utf8": '{"a": "\xff\xfe"}'.encode("latin1").decode("latin1")}.items():
        raw = text.encode("latin1") if tag == "json_not_utf8" else text.encode()
        _case(out, f"c4_sidecar_{tag}", {"model.safetensors": bare, "config.json": raw}, "config")
    # our own converted files: the config in the safetensors metadata
    tiny = tiny_dcgan_state()
    dc_layers = [{"index": 0, "kind": "convT", "in": 8, "out": 16, "kernel": 4, "stride": 1, "padding": 0, "bias": False},
                 {"index": 1, "kind": "bn", "features": 16},
                 {"index": 3, "kind": "convT", "in": 16, "out": 3, "kernel": 4, "stride": 2, "padding": 1, "bias": False}]
    dc_cfg = {"layers": dc_layers, "in_dim": 8, "z_dim": 8, "c_dim": 0, "resolution": 8, "img_channels": 3}
    native = {
        "dcgan_kernel_huge": {**dc_cfg, "layers": [{**dc_layers[0], "kernel": 64, "out": 65536}, *dc_layers[1:]]},
        "dcgan_index_1e9": {**dc_cfg, "layers": [{**dc_layers[0], "index": 10**9}, *dc_layers[1:]]},
        "dcgan_z_dim_zero": {**dc_cfg, "z_dim": 0},
        "dcgan_layers_1e5": {**dc_cfg, "layers": dc_layers * 40_000},
        "dcgan_layers_not_list": {**dc_cfg, "layers": "convT"},
        "dcgan_stride_nan": {**dc_cfg, "layers": [dc_layers[0], dc_layers[1], {**dc_layers[2], "stride": 1e400}]},
    }
    for tag, cfg in native.items():
        meta = {"format": "gan-latent-lab", "arch": "dcgan", "config": json.dumps(cfg)}
        _case(out, f"c4_native_{tag}.safetensors", _safetensors_bytes(tiny, meta),
              {"kernel": "implies", "index": "index", "z": "z_dim", "layers": "layers", "stride": "config"}[tag.split("_")[1]])
    sg2_native = {"img_resolution": 8192, "channel_max": 65536, "channel_base": 1 << 26, "z_dim": 24, "c_dim": 5,
                  "w_dim": 16, "mapping_layers": 3}
    _case(out, "c4_native_stylegan2_implies_terabytes.safetensors", _safetensors_bytes(
        sd2, {"format": "gan-latent-lab", "arch": "stylegan2", "config": json.dumps(sg2_native)}), "implies")
    _case(out, "c4_native_config_nested.safetensors", _safetensors_bytes(
        tiny, {"format": "gan-latent-lab", "arch": "dcgan", "config": '{"a":' * 100 + "1" + "}" * 100}), "nests")
    # BigGAN folders: pytorch_model.bin + config.json
    bg_cfg, bg_state, _ = biggan_oracle()
    buf = io.BytesIO()
    torch.save(dict(bg_state), buf)
    bin_ = buf.getvalue()
    for tag, change in {"layers_1e5": {"layers": [[False, 16, 16]] * 100_000}, "channel_width_1e9": {"channel_width": 10**9},
                        "eps_zero": {"eps": 0}, "num_classes_negative": {"num_classes": -1},
                        "layer_width_1e9": {"layers": [[True, 10**9, 1]]}, "n_stats_text": {"n_stats": "many"},
                        "attention_position_1e9": {"attention_layer_position": 10**9}}.items():
        field = {"layers": "layers", "channel": "channel_width", "eps": "eps", "num": "num_classes", "layer": "layers",
                 "n": "n_stats", "attention": "attention_layer_position"}[tag.split("_")[0]]
        _case(out, f"c4_biggan_{tag}", {"pytorch_model.bin": bin_, "config.json": json.dumps({**bg_cfg, **change}).encode()},
              field)
    # genforce: a PGGAN / StyleGAN2 state dict with declared kwargs beside it
    from safetensors.torch import load_file

    from helpers import ORACLES

    for arch, changes in {"pggan": {"resolution_2e30": {"resolution": 2**30}, "fmaps_max_1e9": {"fmaps_max": 10**9},
                                    "label_size_negative": {"label_size": -1}},
                          "stylegan2": {"mapping_layers_1e9": {"mapping_layers": 10**9},
                                        "fused_scale_maybe": {"fused_scale": "maybe"},
                                        "w_space_dim_zero": {"w_space_dim": 0}}}.items():
        st = _safetensors_bytes(load_file(ORACLES / f"{arch}_genforce16.safetensors"))
        for tag, change in changes.items():
            field = "_".join(p for p in tag.split("_") if p not in ("2e30", "1e9", "negative", "maybe", "zero"))
            _case(out, f"c4_genforce_{arch}_{tag}", {"model.safetensors": st, "config.json": json.dumps(change).encode()},
                  field)
    # pytorch_GAN_zoo: the trainer config beside the file
    zoo = io.BytesIO()
    torch.save({"avgG": tiny_zoo_state()}, zoo)
    for tag, cfg in {"leakyness_5": {"leakyReluLeak": 5.0}, "category_negative": {"categoryVectorDim": -3},
                     "category_text": {"categoryVectorDim": "x"}}.items():
        _case(out, f"c4_zoo_{tag}", {"generator.pth": zoo.getvalue(), "config.json": json.dumps(cfg).encode()},
              {"leakyness": "leakyness", "category": "category_dim"}[tag.split("_")[0]])
    return out


def _nest(depth: int):
    x: list = []
    for _ in range(depth):
        x = [x]
    return x


# ----- class 5: format sniffing and weight types ------------------------------------------------------
def safetensors_with_header(sd: dict, header_len: int) -> bytes:
    """A valid safetensors file whose JSON header is exactly ``header_len`` bytes (metadata padding)."""
    for k in range(0, header_len):
        blob = _safetensors_bytes(sd, {"pad": "x" * k})
        (n,) = struct.unpack("<Q", blob[:8])
        if n == header_len:
            return blob
        if n > header_len:
            break
    raise AssertionError(f"no padding gives a {header_len}-byte header")


def dtype_cases() -> list:
    out: list = []
    tiny = tiny_dcgan_state()
    meta = {"format": "gan-latent-lab", "arch": "dcgan", "config": json.dumps({
        "layers": [{"index": 0, "kind": "convT", "in": 8, "out": 16, "kernel": 4, "stride": 1, "padding": 0, "bias": False},
                   {"index": 1, "kind": "bn", "features": 16},
                   {"index": 3, "kind": "convT", "in": 16, "out": 3, "kernel": 4, "stride": 2, "padding": 1, "bias": False}],
        "in_dim": 8, "z_dim": 8, "c_dim": 0, "resolution": 8, "img_channels": 3})}
    for tag, dtype in [("complex64", torch.complex64), ("int32", torch.int32), ("int64", torch.int64),
                       ("bool", torch.bool), ("uint8", torch.uint8), ("int8", torch.int8)]:
        sd = dict(tiny)
        sd["main.0.weight"] = tiny["main.0.weight"].to(dtype)
        _case(out, f"c5_native_weights_{tag}.safetensors", _safetensors_bytes(sd, meta), "floating point")
    # a header length whose bytes look like a pickle, but the header does not fit: not safetensors
    fake = struct.pack("<Q", 0x380) + b"{" + b" " * 40
    _case(out, "c5_header_longer_than_file.safetensors", fake)
    _case(out, "c5_pickle_lookalike.pkl", b"\x80\x03" + b"\0" * 6 + b"{" + b"." * 20, "")
    return out


def valid_edge_cases() -> list[tuple[str, bytes]]:
    """Files that must load: safetensors headers whose length bytes read ``80 02..05`` (like a pickle),
    half-precision and bfloat16 weights in every container, and a float16 NVlabs-style pickle."""
    tiny = tiny_dcgan_state()
    out = [(f"header_{n}.safetensors", safetensors_with_header(tiny, n)) for n in (640, 896, 1152, 1408)]
    for dtype in (torch.float16, torch.bfloat16):
        sd = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in tiny.items()}
        tag = str(dtype).split(".")[1]
        buf = io.BytesIO()
        torch.save({"netG_state_dict": sd}, buf)
        legacy = io.BytesIO()
        torch.save(collections.OrderedDict(sd), legacy, _use_new_zipfile_serialization=False)
        out += [(f"tiny_{tag}.safetensors", _safetensors_bytes(sd)), (f"tiny_{tag}.pt", buf.getvalue()),
                (f"tiny_{tag}_legacy.pth", legacy.getvalue()),
                (f"tiny_{tag}.pkl", pickle.dumps({"netG_state_dict": sd}, protocol=4))]
    return out


# ----- class 6: NaN weights, direction sets, latents; class 8: run files -----------------------------
def _dirs_file(vectors, values=None, **meta) -> bytes:
    vectors = torch.as_tensor(vectors)
    values = torch.ones(vectors.shape[0] if vectors.ndim else 1) if values is None else torch.as_tensor(values)
    md = {"format": "gan-latent-lab-directions", "method": "sefa", "space": "w", "slots": "null", "scale_kind": "none",
          "fingerprint": "", "labels": "[]", "meta": "{}"}
    md.update({k: (v if isinstance(v, str) else json.dumps(v)) for k, v in meta.items()})
    return _safetensors_bytes({"vectors": vectors, "values": values}, md)


def _latent_file(codes=None, z=None, **meta) -> bytes:
    codes = torch.zeros(2, 1, 8) if codes is None else torch.as_tensor(codes)
    tensors = {"codes": codes}
    if z is not None:
        tensors["z"] = torch.as_tensor(z)
    md = {"format": "gan-latent-lab-latent", "fingerprint": "abc", "seeds": "[0, 1]", "truncation_psi": "1.0",
          "space": "w"}
    md.update(meta)
    return _safetensors_bytes(tensors, md)


def _run_file(**changes) -> bytes:
    record = {"format": "gan-latent-lab-voynov", "version": 1, "step": 5, "target": 10, "config": {"k": 2},
              "fingerprint": "abc", "deformator": {}, "reconstructor": {}, "opt_deformator": None,
              "opt_reconstructor": {}, "rng": torch.zeros(8, dtype=torch.uint8), "directions": torch.eye(2, 8),
              "done": False, "stats": None}
    record.update(changes)
    buf = io.BytesIO()
    torch.save(record, buf)
    return buf.getvalue()


def error_type_cases() -> list:
    out: list = []
    tiny = tiny_dcgan_state()
    for tag, value in [("nan", float("nan")), ("inf", float("inf")), ("neg_inf", float("-inf"))]:
        sd = {k: v.clone() for k, v in tiny.items()}
        sd["main.3.weight"][0, 0, 0, 0] = value
        _case(out, f"c6_weights_{tag}.safetensors", _safetensors_bytes(sd), "NaN or infinite")
        buf = io.BytesIO()
        torch.save({"netG_state_dict": sd}, buf)
        _case(out, f"c6_weights_{tag}.pt", buf.getvalue(), "NaN or infinite")
    from model_files import oracle

    sd2, _, meta2 = oracle("stylegan2_cond16")
    bad = {k: v.clone() for k, v in sd2.items()}
    bad["mapping.fc0.weight"][0, 0] = float("nan")
    _case(out, "c6_weights_nan_nvlabs.pkl", nvlabs_pickle_bytes(bad, meta2["init_kwargs"]), "NaN or infinite")
    _case(out, "c6_folder_without_weights", {"readme.txt": b"no weights here"}, "holds none")
    eye = torch.eye(3, 8)
    dirs = {
        "zero_vector": _dirs_file(torch.cat([eye, torch.zeros(1, 8)])),
        "nan_vector": _dirs_file(torch.full((2, 8), float("nan"))),
        "nan_values": _dirs_file(eye, torch.tensor([1.0, float("nan"), 1.0])),
        "values_count": _dirs_file(eye, torch.ones(5)),
        "slots_fraction": _dirs_file(eye, slots=[0.5, 1]),
        "slots_negative": _dirs_file(eye, slots=[-1, 2]),
        "slots_bool": _dirs_file(eye, slots=[True]),
        "slots_huge": _dirs_file(eye, slots=[10**12]),
        "slots_text": _dirs_file(eye, slots="all"),
        "slots_nested": _dirs_file(eye, slots="[" * 500 + "]" * 500),
        "space_q": _dirs_file(eye, space="q"),
        "space_empty": _dirs_file(eye, space=""),
        "labels_dict": _dirs_file(eye, labels={"a": 1}),
        "meta_list": _dirs_file(eye, meta=[1]),
        "meta_nested": _dirs_file(eye, meta='{"a":' * 200 + "1" + "}" * 200),
        "scale_kind_evil": _dirs_file(eye, scale_kind="evil"),
        "vectors_1d": _dirs_file(torch.ones(8)),
        "vectors_3d": _dirs_file(torch.ones(2, 2, 8)),
        "vectors_int": _dirs_file(torch.ones(2, 8, dtype=torch.int32)),
        "vectors_empty": _dirs_file(torch.ones(0, 8), torch.ones(0)),
        "missing_values": _safetensors_bytes({"vectors": eye}, {"format": "gan-latent-lab-directions"}),
        "dfl_zero_component": _safetensors_bytes({"component_00": torch.zeros(8), "component_01": torch.ones(8)}),
        "dfl_nan_component": _safetensors_bytes({"component_00": torch.full((8,), float("nan"))}),
        "dfl_lengths_differ": _safetensors_bytes({"component_00": torch.ones(8), "component_01": torch.ones(4)}),
        "not_directions": _safetensors_bytes({"x": torch.ones(2)}),
    }
    expect = {"zero": "zero", "nan": "NaN", "values": "values", "slots": "slots", "space": "space", "labels": "labels",
              "meta": "meta", "scale": "scale kind", "vectors": "vectors", "missing": "values", "dfl": "", "not": ""}
    for tag, blob in dirs.items():
        _case(out, f"c6_dir_{tag}.safetensors", blob, expect[tag.split("_")[0]])
    std = _npy(np.ones(2, np.float32))
    for tag, entries in {"zero_component": {"lat_comp.npy": _npy(np.zeros((2, 1, 8), np.float32)), "lat_stdev.npy": std},
                         "stdev_count": {"lat_comp.npy": _npy(np.ones((2, 1, 8), np.float32)),
                                         "lat_stdev.npy": _npy(np.ones(5, np.float32))},
                         "int_components": {"lat_comp.npy": _npy(np.ones((2, 8), np.int32)), "lat_stdev.npy": std},
                         "nan_stdev": {"lat_comp.npy": _npy(np.ones((2, 8), np.float32)),
                                       "lat_stdev.npy": _npy(np.array([1, np.nan], np.float32))},
                         "space_q": {"lat_comp.npy": _npy(np.ones((2, 8), np.float32)), "lat_stdev.npy": std,
                                     "gll_space.npy": _npy(np.array("q"))},
                         "no_components": {"lat_stdev.npy": std}}.items():
        _case(out, f"c6_dir_ganspace_{tag}.npz", _npz(entries), "")
    for tag, arr in {"int": np.ones((1, 8), np.int32), "three_d": np.ones((1, 1, 8), np.float32),
                     "zero": np.zeros((1, 8), np.float32), "nan": np.full((1, 8), np.nan, np.float32),
                     "two_rows": np.ones((2, 8), np.float32)}.items():
        _case(out, f"c6_dir_interfacegan_{tag}.npy", _npy(arr), "")
    lat = {
        "nan_codes": _latent_file(torch.full((2, 1, 8), float("nan"))),
        "codes_2d": _latent_file(torch.zeros(2, 8)),
        "codes_int": _latent_file(torch.zeros(2, 1, 8, dtype=torch.int64)),
        "z_rows_differ": _latent_file(z=torch.zeros(5, 8)),
        "seeds_negative": _latent_file(seeds="[-1, 2]"),
        "seeds_float": _latent_file(seeds="[0.5, 1]"),
        "seeds_huge": _latent_file(seeds="[99999999999999]"),
        "seeds_nested": _latent_file(seeds="[" * 300 + "]" * 300),
        "space_x": _latent_file(space="x"),
        "psi_nan": _latent_file(truncation_psi="nan"),
        "psi_text": _latent_file(truncation_psi="high"),
        "not_a_latent": _safetensors_bytes({"codes": torch.zeros(1, 1, 1)}),
    }
    for tag, blob in lat.items():
        _case(out, f"c6_lat_{tag}.safetensors", blob, {"nan": "finite", "codes": "codes", "seeds": "seeds",
                                                       "space": "space", "psi": "psi", "z": "rows",
                                                       "not": "latent"}[tag.split("_")[0]])
    for tag, change in {"step_negative": {"step": -10**9}, "step_past_target": {"step": 50, "target": 10},
                        "step_float": {"step": 5.5}, "step_bool": {"step": True}, "target_huge": {"target": 10**15},
                        "directions_nan": {"directions": torch.full((2, 8), float("nan"))},
                        "directions_1d": {"directions": torch.ones(8)}, "config_list": {"config": [1]},
                        "done_text": {"done": "yes"}, "version_2": {"version": 2}}.items():
        _case(out, f"c8_run_{tag}.voynov", _run_file(**change), {"step": "step", "target": "step", "directions": "directions",
                                                                  "config": "config", "done": "done",
                                                                  "version": "version"}[tag.split("_")[0]])
    buf = io.BytesIO()
    torch.save([1, 2, 3], buf)
    _case(out, "c8_run_not_a_dict.voynov", buf.getvalue(), "not a Voynov run")
    return out


# =====================================================================================================
# The same classes on the code of issues 15 and 19: the papers' generators (Brock BigGAN, ptrblck
# ProgGAN, SN-GAN folders, StyleGAN v1 TF pickles), VGG16 / LPIPS files (torchvision, NVIDIA's
# TorchScript vgg16.pt, the lpips package's vgg.pth), other tools' latents (.npz, .npy, rosinality and
# e4e .pt), converted files' ancestry, Voynov runs.  A name whose second part is vgg_ / lpips_ is read
# by read_vgg16 / read_lpips_weights.
# =====================================================================================================
VOYNOV_MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "oracles", "voynov_models")


def _oracle_bytes(*parts: str) -> bytes:
    with open(os.path.join(VOYNOV_MODELS, *parts), "rb") as f:
        return f.read()


def _oracle_state(*parts: str) -> dict:
    return dict(torch.load(os.path.join(VOYNOV_MODELS, *parts), map_location="cpu", weights_only=True))


def _torch_bytes(obj, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def _native(sd: dict, arch: str, config, **meta) -> bytes:
    md = {"format": "gan-latent-lab", "arch": arch, "config": config if isinstance(config, str) else json.dumps(config)}
    md.update(meta)
    return _safetensors_bytes(sd, md)


def _with_nan(sd: dict, key: str) -> dict:
    out = {k: v.clone() for k, v in sd.items()}
    out[key].view(-1)[0] = float("nan")
    return out


class _Sink:
    """Stands in for a Path for writers that call ``write_bytes``."""

    data = b""

    def write_bytes(self, data: bytes) -> None:
        self.data = data


def _v1_pickle(static: dict, edit=None, **kw) -> bytes:
    from model_files import oracle, stylegan1_tf_variables, write_tf_pickle

    sd, _, _ = oracle("stylegan1_genforce16")
    top, mapping, synth = stylegan1_tf_variables(sd)
    if edit is not None:
        top, mapping, synth = edit(top, mapping, synth)
    sink = _Sink()
    write_tf_pickle(sink, top, mapping, synth, static, "# networks_stylegan.py\n",
                    funcs=("G_style", "G_mapping", "G_synthesis"), **kw)
    return sink.data


V1_STATIC = {"num_channels": 3, "resolution": 16, "label_size": 0, "fmap_base": 256, "fmap_max": 32,
             "latent_size": 32, "dlatent_size": 32, "mapping_layers": 3}


def papers_family_cases() -> list:
    """Configurations (class 4), NaN weights (6) and numpy in the pickles (1) of the issue-19 families."""
    from gan_latent_lab.loaders import biggan_brock, proggan_ptrblck, sngan

    out: list = []
    # BigGAN-PyTorch: G_ema weights with a config.json beside them (the reference's own keys)
    brock = _oracle_bytes("biggan_brock64.pth")
    ref = json.loads(_oracle_bytes("biggan_brock64.json"))["config"]
    for tag, change, field in [
        ("bn_eps_zero", {"BN_eps": 0}, "BN_eps"), ("bn_eps_nan", {"BN_eps": float("nan")}, "BN_eps"),
        ("sn_eps_inf", {"SN_eps": float("inf")}, "SN_eps"), ("sn_eps_text", {"SN_eps": "1e-6"}, "SN_eps"),
        ("g_ch_negative", {"G_ch": -4}, "G_ch"), ("g_ch_1e9", {"G_ch": 10**9}, "G_ch"),
        ("dim_z_zero", {"dim_z": 0}, "dim_z"), ("n_classes_text", {"n_classes": "ten"}, "n_classes"),
        ("num_svs_1e6", {"num_G_SVs": 10**6}, "num_G_SVs"), ("g_attn_list", {"G_attn": [[16]] * 5}, "G_attn"),
        ("hier_text", {"hier": "yes"}, "hier"), ("class_names_dict", {"class_names": {"a": 1}}, "class_names"),
        ("g_nl_evil", {"G_nl": "evil"}, "G_nl"), ("resolution_2e30", {"resolution": 2**30}, "resolution"),
        ("nested_600", {"extra": _nest(600)}, "config"),
    ]:
        _case(out, f"c4_brock_{tag}", {"generator.pth": brock, "config.json": json.dumps({**ref, **change}).encode()},
              field)
    bsd = _oracle_state("biggan_brock64.pth")
    bcfg = biggan_brock.infer_config(bsd)
    for tag, change, field in [
        ("channels_implies_terabytes", {"channels": [65536] * len(bcfg["channels"])}, "implies"),
        ("channels_zero", {"channels": [64, 0] + bcfg["channels"][2:]}, "channels"),
        ("attention_99", {"attention": [99]}, "attention"), ("z_dim_21", {"z_dim": 21}, "z_dim"),
        ("num_svs_1e6", {"num_svs": 10**6}, "num_svs"), ("bottom_width_1e9", {"bottom_width": 10**9}, "bottom_width"),
        ("image_channels_zero", {"image_channels": 0}, "image_channels"), ("n_classes_negative", {"n_classes": -1}, "n_classes"),
        ("channels_text", {"channels": "wide"}, "channels"), ("sn_eps_one_point_five", {"sn_eps": 1.5}, "sn_eps"),
    ]:
        _case(out, f"c4_native_brock_{tag}.safetensors", _native(bsd, biggan_brock.ARCH, {**bcfg, **change}), field)
    _case(out, "c4_native_brock_bn_eps_nan.safetensors",
          _native(bsd, biggan_brock.ARCH, json.dumps({**bcfg, "bn_eps": 1.0}).replace("1.0", "NaN", 1)), "NaN")
    _case(out, "c6_weights_nan_brock.pth", _torch_bytes(_with_nan(bsd, "linear.weight")), "NaN or infinite")
    # ptrblck ProgGAN: a bare state dict; its config comes from shapes or a converted file's metadata
    psd = _oracle_state("proggan_ptrblck64.pth")
    pcfg = proggan_ptrblck.infer_config(psd)
    for tag, change, field in [
        ("channels_implies_terabytes", {"channels": [65536] * 10}, "implies"), ("channels_odd", {"channels": [32] * 9}, "channels"),
        ("z_dim_zero", {"z_dim": 0}, "z_dim"), ("image_channels_9", {"image_channels": 9}, "image_channels"),
        ("channels_22", {"channels": [8] * 22}, "channels"), ("z_dim_inf_text", {"z_dim": "inf"}, "z_dim"),
    ]:
        _case(out, f"c4_native_proggan_{tag}.safetensors", _native(psd, proggan_ptrblck.ARCH, {**pcfg, **change}), field)
    _case(out, "c6_weights_inf_proggan.pth", _torch_bytes({k: (v.clone().fill_(float("inf")) if k == "output.wscale.scale"
                                                              else v) for k, v in psd.items()}), "NaN or infinite")
    # SN-GAN folders: generator.pt with the official args.json
    gen_pt = _oracle_bytes("sngan_sn_resnet32", "generator.pt")
    args = json.loads(_oracle_bytes("sngan_sn_resnet32", "args.json"))
    for tag, text, field in [
        ("latent_dim_zero", {**args, "latent_dim": 0}, "latent_dim"),
        ("latent_dim_nan", json.dumps(args).replace("128", "NaN"), "latent_dim"),
        ("latent_dim_fraction", {**args, "latent_dim": 127.5}, "latent_dim"),
        ("model_evil", {**args, "model": "sn_resnet4096"}, "model"),
        ("distribution_list", {**args, "distribution": ["normal"]}, "distribution"),
        ("image_channels_1e9", {**args, "image_channels": 10**9}, "image_channels"),
        ("nested_10000", _deep_json(10_000), "nests"), ("list", "[1, 2, 3]", "object"),
        ("two_mib", " " * (2 << 20) + "{}", "MiB"), ("truncated", '{"latent_dim": 12', "JSON"),
        ("not_utf8", b'{"model": "\xff\xfe"}', "JSON"),
    ]:
        raw = text if isinstance(text, bytes) else (text if isinstance(text, str) else json.dumps(text)).encode()
        _case(out, f"c4_sngan_args_{tag}", {"generator.pt": gen_pt, "args.json": raw}, field)
    ssd = _oracle_state("sngan_sn_resnet32", "generator.pt")
    scfg = sngan.infer_config(ssd)
    for tag, change, field in [
        ("channels_1e9", {"channels": [64, 10**9, 64, 64]}, "channels"), ("bottom_width_zero", {"bottom_width": 0}, "bottom_width"),
        ("z_dim_negative", {"z_dim": -1}, "z_dim"), ("model_evil", {"model": "evil"}, "model"),
        ("channels_implies_terabytes", {"channels": [65536] * 4}, "implies"),
    ]:
        _case(out, f"c4_native_sngan_{tag}.safetensors", _native(sngan._fold_aliases(ssd), sngan.ARCH,
                                                                 {**scfg, **change}), field)
    _case(out, "c6_weights_nan_sngan", {"generator.pt": _torch_bytes(_with_nan(ssd, "model.0.weight")),
                                        "args.json": json.dumps(args).encode()}, "NaN or infinite")
    # StyleGAN (v1) TF pickles: the static kwargs of networks_stylegan.py
    for tag, change, field in [
        ("resolution_2e30", {"resolution": 2**30}, "resolution"), ("resolution_disagrees", {"resolution": 32}, "resolution"),
        ("latent_size_zero", {"latent_size": 0}, "latent_size"), ("mapping_lrmul_nan", {"mapping_lrmul": float("nan")}, "mapping_lrmul"),
        ("fused_scale_maybe", {"fused_scale": "maybe"}, "fused_scale"), ("use_wscale_text", {"use_wscale": "False"}, "use_wscale"),
        ("blur_filter_20000_taps", {"blur_filter": [1.0] * 20000}, "blur_filter"),
        ("fmap_base_1e12", {"fmap_base": 10**12}, "fmap_base"), ("truncation_psi_inf", {"truncation_psi": float("inf")}, "truncation_psi"),
        ("dlatent_avg_beta_5", {"dlatent_avg_beta": 5.0}, "dlatent_avg_beta"), ("structure_evil", {"structure": "evil"}, "structure"),
        ("mapping_layers_1e9", {"mapping_layers": 10**9}, "mapping_layers"), ("num_channels_disagrees", {"num_channels": 1}, "num_channels"),
        ("label_size_negative", {"label_size": -1}, "label_size"), ("dtype_object", {"dtype": "object"}, "dtype"),
    ]:
        _case(out, f"c4_tf_v1_{tag}.pkl", _v1_pickle({**V1_STATIC, **change}), field)
    far = (3, "<", None, ("a",), {"a": (np.dtype("f8"), 10**9)}, 8, 1, 0)
    _case(out, "c1_tf_v1_static_kwargs_evil_scalar.pkl", _v1_pickle(
        {**V1_STATIC, "truncation_psi": _Reduce(_MULTIARRAY.scalar, _dtype("f8", far), b"\0" * 8)}), "numpy")

    def evil_variable(top, mapping, synth):
        return top + [("evil", _array(_dtype("f8", far), raw=b"\0" * 8))], mapping, synth

    def object_variable(top, mapping, synth):
        return top + [("evil", np.array([1, "a", None], dtype=object))], mapping, synth

    def nan_variable(top, mapping, synth):
        return top, [(k, np.full_like(v, np.nan) if k == "Dense0/weight" else v) for k, v in mapping], synth

    _case(out, "c1_tf_v1_variable_field_offset.pkl", _v1_pickle(V1_STATIC, evil_variable), "numpy")
    _case(out, "c1_tf_v1_variable_object_array.pkl", _v1_pickle(V1_STATIC, object_variable), "numpy")
    _case(out, "c6_weights_nan_tf_v1.pkl", _v1_pickle(V1_STATIC, nan_variable), "NaN or infinite")
    # the same with G and D of their own: only Gs is read, yet every network is checked while unpickled
    _case(out, "c1_tf_v1_d_holds_object_array.pkl", _v1_pickle(V1_STATIC, d_vars=[("x", np.array([None], dtype=object))]),
          "numpy")
    return out


# ----- TorchScript archives (NVIDIA's vgg16.pt), torchvision VGG16, LPIPS weights -----------------------
class _TorchModule:
    """Pickles as TorchScript writes a module: ``__torch__.<name>()`` then BUILD with its attributes."""

    def __init__(self, name: str, state: dict):
        self.name, self.state = name, state

    def __reduce__(self):
        return (_torch_class(self.name), (), self.state)


_TORCH_CLASSES: dict = {}


def _torch_class(name: str):
    if name not in _TORCH_CLASSES:
        _TORCH_CLASSES[name] = type(name, (), {"__module__": "__torch__"})
    return _TORCH_CLASSES[name]


def _dump_torchscript(obj) -> bytes:
    import sys
    import types

    mod = types.ModuleType("__torch__")
    mod.__getattr__ = _torch_class  # classes made while pickling are found by name too
    saved = sys.modules.get("__torch__")
    sys.modules["__torch__"] = mod
    try:
        return _dump_storages(obj)
    finally:
        if saved is None:
            sys.modules.pop("__torch__", None)
        else:
            sys.modules["__torch__"] = saved


def torchscript_archive(root, storages: dict, byteorder: bytes = b"little", compress: int = zipfile.ZIP_STORED,
                        data_pkl: bytes | None = None) -> bytes:
    """A TorchScript zip: ``vgg16/data.pkl``, ``constants.pkl``, ``code/`` (never read), ``data/<key>``."""
    data_pkl = _dump_torchscript(root) if data_pkl is None else data_pkl
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("vgg16/data.pkl", data_pkl)
        z.writestr("vgg16/constants.pkl", pickle.dumps((), protocol=2))
        z.writestr("vgg16/code/__torch__.py", b"# TorchScript source that torch.jit.load would run\n")
        z.writestr("vgg16/byteorder", byteorder)
        for key, data in storages.items():
            z.writestr(f"vgg16/data/{key}", data, compress_type=compress,
                       compresslevel=1 if compress == zipfile.ZIP_DEFLATED else None)
        z.writestr("vgg16/version", b"3\n")
    return out.getvalue()


def vgg_torchscript(change: dict | None = None, extra: dict | None = None, value: float = 0.01, **kw) -> bytes:
    """NVIDIA's vgg16.pt layout (``layers.convN``, ``lpipsK``) where every tensor is a stride-0 view of a
    one-element storage: a few KB standing for the whole network.  ``change`` maps a tensor name to
    fields replacing its (type_name, numel, offset, size, stride, data); ``extra`` adds root attributes."""
    from gan_latent_lab.loaders.vgg import LPIPS_CHANNELS, VGG16_CONVS

    shapes = {}
    for i, (cin, cout) in enumerate(VGG16_CONVS, 1):
        shapes[f"layers.conv{i}.weight"], shapes[f"layers.conv{i}.bias"] = (cout, cin, 3, 3), (cout,)
    for k, c in enumerate(LPIPS_CHANNELS):
        shapes[f"lpips{k}"] = (c, 1, 1)
    storages, tensors = {}, {}
    for i, (name, shape) in enumerate(shapes.items()):
        spec = {"type_name": "FloatStorage", "numel": 1, "offset": 0, "size": shape, "stride": (0,) * len(shape),
                "data": None, "key": str(i)}
        spec.update((change or {}).get(name, {}))
        if spec["data"] is None:
            itemsize = {"FloatStorage": 4, "IntStorage": 4, "BoolStorage": 1, "HalfStorage": 2, "DoubleStorage": 8}.get(
                spec["type_name"], 4)
            dtype = {"FloatStorage": np.float32, "IntStorage": np.int32, "BoolStorage": np.bool_, "HalfStorage": np.float16,
                     "DoubleStorage": np.float64}.get(spec["type_name"], np.float32)
            spec["data"] = np.full(spec["numel"], value, dtype=dtype).tobytes()[: spec["numel"] * itemsize]
        if spec["data"] is not False:
            storages[spec["key"]] = spec["data"]
        tensors[name] = _tensor(_Storage(spec["key"], spec["numel"], spec["type_name"]), spec["offset"], spec["size"],
                                spec["stride"])
    convs = {f"conv{i}": _TorchModule("Conv2d", {"weight": tensors[f"layers.conv{i}.weight"],
                                                 "bias": tensors[f"layers.conv{i}.bias"], "training": False})
             for i in range(1, 14)}
    layers = _TorchModule("Layers", {**convs, "training": False})
    root = _TorchModule("VGG16", {"layers": layers, **{f"lpips{k}": tensors[f"lpips{k}"] for k in range(5)},
                                  "training": False, **(extra or {})})
    return torchscript_archive(root, storages, **kw)


def vgg_cases(sentinel: str) -> list:
    out: list = []
    cmd = _shell(sentinel)
    w1 = "layers.conv1.weight"
    # class 1 and hostile globals: data.pkl may name only TorchScript's own globals
    for tag, value, fragment in [
        ("os_system", _Reduce(os.system, cmd), "system"), ("eval", _Reduce(eval, f"open({sentinel!r},'w')"), "eval"),
        ("torch_load", _Reduce(torch.load, sentinel), "load"),
        ("numpy_field_offset", _array(_dtype("f8", (3, "<", None, ("a",), {"a": (np.dtype("f8"), 10**9)}, 8, 1, 0)),
                                      raw=b"\0" * 8), "numpy"),
        ("numpy_object_array", np.array([1, "a", None], dtype=object), "numpy"),
        ("load_from_bytes", _Reduce(torch.storage._load_from_bytes, _payload(4)), "_load_from_bytes"),
        ("rebuild_parameter", _Reduce(torch._utils._rebuild_parameter, 1, False, collections.OrderedDict()),
         "_rebuild_parameter"),
        ("subprocess", _Reduce(__import__("subprocess").call, cmd), "nothing was run"),
    ]:
        _case(out, f"c1_vgg_ts_global_{tag}.pt", vgg_torchscript(extra={"evil": value}), fragment)
    _case(out, "c1_vgg_ts_deep_nesting.pt", torchscript_archive(None, {}, data_pkl=_deep_pickle(50_000)), "")
    # class 2: views and storages in a TorchScript archive
    for tag, (off, size, stride) in VIEW_ATTACKS.items():
        if tag == "stride0_expand_gb":
            continue
        _case(out, f"c2_vgg_ts_{tag}.pt", vgg_torchscript({w1: {"numel": 4, "data": _floats(4), "offset": off,
                                                                "size": size, "stride": stride}}), "")
    EXPECT["c2_vgg_ts_offset_past_end.pt"] = EXPECT["c2_vgg_ts_size_past_end.pt"] = "reaches element"
    _case(out, "c2_vgg_ts_stride0_4gib_extra.pt", vgg_torchscript(extra={"big": _tensor(_Storage("99", 1), 0, (1 << 15, 1 << 15),
                                                                                         (0, 0))}, ), "declare")
    _case(out, "c2_vgg_ts_storage_entry_smaller.pt", vgg_torchscript({w1: {"numel": 1000, "data": _floats(4)}}), "holds 16 bytes")
    _case(out, "c2_vgg_ts_storage_entry_missing.pt", vgg_torchscript({w1: {"data": False, "key": "77"}}), "not in it")
    _case(out, "c2_vgg_ts_storage_numel_negative.pt", vgg_torchscript({w1: {"numel": -4, "data": b""}}), "element count")
    _case(out, "c2_vgg_ts_storage_numel_2e50.pt", vgg_torchscript({w1: {"numel": 2**50, "data": b""}}), "element count")
    _case(out, "c2_vgg_ts_storage_key_parent.pt", vgg_torchscript({w1: {"key": "../../x"}}), "plain name")
    _case(out, "c2_vgg_ts_storage_complex.pt", vgg_torchscript({w1: {"type_name": "ComplexFloatStorage"}}), "Complex")
    _case(out, "c2_vgg_ts_storage_key_twice_sizes.pt", vgg_torchscript(
        {w1: {"key": "0", "numel": 1}, "layers.conv1.bias": {"key": "0", "numel": 64, "data": _floats(64)}}), "")
    _case(out, "c2_vgg_ts_pid_short.pt", torchscript_archive(None, {}, data_pkl=_dump_storages(
        _tensor(_Storage("0", 1), 0, (1,), (1,)), pid=("storage", torch.FloatStorage, "0", "cpu"))), "persistent id")
    _case(out, "c2_vgg_ts_tensor_on_int.pt", vgg_torchscript(extra={"t": _tensor(7, 0, (1,), (1,))}), "storage")
    _case(out, "c2_vgg_ts_shape_wrong.pt", vgg_torchscript({w1: {"size": (64, 3, 5, 5), "stride": (0, 0, 0, 0)}}), "shape")
    # class 3: decompression bombs and what archives may hold
    numel = BOMB_BYTES // 4
    _case(out, "c3_vgg_ts_deflate_bomb.pt", vgg_torchscript({w1: {"numel": numel, "data": bytes(BOMB_BYTES)}},
                                                            compress=zipfile.ZIP_DEFLATED), "inflate")
    honest = vgg_torchscript()
    _case(out, "c3_vgg_ts_central_dir_lies.pt", _lie_about_size(honest, "vgg16/data/0", 0xFFFFFFF0), "inflate")
    _case(out, "c3_vgg_ts_data_pkl_lies.pt", _lie_about_size(honest, "vgg16/data.pkl", 0xFFFFFFF0), "inflate")
    _case(out, "c3_vgg_ts_bzip2.pt", vgg_torchscript(compress=zipfile.ZIP_BZIP2), "compression method")
    _case(out, "c3_vgg_ts_lzma.pt", vgg_torchscript(compress=zipfile.ZIP_LZMA), "compression method")
    # class 5: element types and byte order
    for tag, type_name in [("int32", "IntStorage"), ("bool", "BoolStorage")]:
        _case(out, f"c5_vgg_ts_weights_{tag}.pt", vgg_torchscript({w1: {"type_name": type_name}}), "not floating point")
    _case(out, "c5_vgg_ts_big_endian.pt", vgg_torchscript(byteorder=b"big"), "big-endian")
    _case(out, "c5_vgg_ts_not_a_vgg.pt", torchscript_archive(_TorchModule("Net", {"w": _tensor(_Storage("0", 4), 0, (4,), (1,))}),
                                                             {"0": _floats(4)}), "not a VGG16")
    _case(out, "c5_vgg_ts_root_not_module.pt", torchscript_archive([1, 2, 3], {}), "TorchScript module")
    # class 6: NaN weights, LPIPS weights that are not weights
    _case(out, "c6_vgg_ts_weights_nan.pt", vgg_torchscript(value=float("nan")), "NaN")
    _case(out, "c6_vgg_ts_lpips_negative.pt", vgg_torchscript({"lpips2": {"data": np.float32(-1).tobytes()}}), "negative")
    _case(out, "c6_vgg_ts_lpips_missing.pt", vgg_torchscript({"lpips4": {"size": (7, 1, 1), "stride": (0, 0, 0)}}), "lpips4")
    # torchvision VGG16 (a torch zip state dict) read by read_vgg16: the checkpoint checks apply
    tv = {"features.0.weight": _tensor(_Storage("0", 4), 0, (64, 3, 3, 3), (0, 0, 0, 0))}
    _case(out, "c1_vgg_torchvision_os_system.pth", torch_zip({"features.0.weight": _Reduce(os.system, cmd)}, {}), "system")
    _case(out, "c2_vgg_torchvision_offset_past_end.pth", torch_zip({"features.0.weight": _tensor(_Storage("0", 4), 100, (4,), (1,))},
                                                                   {"0": _floats(4)}), "does not hold")
    _case(out, "c2_vgg_torchvision_stride0_4gib.pth", torch_zip({**tv, "big": _tensor(_Storage("1", 1), 0, (1 << 15, 1 << 15),
                                                                                      (0, 0))}, {"0": _floats(4), "1": _floats(1)}),
          "declare")
    _case(out, "c3_vgg_torchvision_deflate_bomb.pth", torch_zip({"features.0.weight": _tensor(_Storage("0", numel), 0, (numel,), (1,))},
                                                                {"0": bytes(BOMB_BYTES)}, compress=zipfile.ZIP_DEFLATED), "inflate")
    _case(out, "c5_vgg_torchvision_not_vgg.pth", _torch_bytes({"features.0.weight": torch.zeros(3, 3)}), "VGG16")
    _case(out, "c5_vgg_lpips_file_as_vgg.pth", _torch_bytes(_lpips_state()), "LPIPS calibration file")
    # the lpips package's vgg.pth
    for tag, change, fragment in [
        ("nan", {"lin1.model.1.weight": torch.full((1, 128, 1, 1), float("nan"))}, "NaN"),
        ("negative", {"lin0.model.1.weight": -torch.ones(1, 64, 1, 1)}, "negative"),
        ("channels_10", {"lin2.model.1.weight": torch.ones(1, 10, 1, 1)}, "256 weights"),
        ("int", {"lin3.model.1.weight": torch.ones(1, 512, 1, 1, dtype=torch.int32)}, "not floating point"),
        ("four_layers", {"lin4.model.1.weight": None}, "four"),
    ]:
        sd = {k: v for k, v in {**_lpips_state(), **change}.items() if v is not None}
        _case(out, f"c6_lpips_{tag}.pth", _torch_bytes(sd), fragment)
    EXPECT["c6_lpips_four_layers.pth"] = "exactly five"
    _case(out, "c1_lpips_os_system.pth", torch_zip({"lin0.model.1.weight": _Reduce(os.system, cmd)}, {}), "system")
    _case(out, "c2_lpips_stride0_4gib.pth", torch_zip({"lin0.model.1.weight": _tensor(_Storage("0", 1), 0, (1 << 15, 1 << 15),
                                                                                      (0, 0))}, {"0": _floats(1)}), "declare")
    _case(out, "c3_lpips_deflate_bomb.pth", torch_zip({"lin0.model.1.weight": _tensor(_Storage("0", numel), 0, (numel,), (1,))},
                                                      {"0": bytes(BOMB_BYTES)}, compress=zipfile.ZIP_DEFLATED), "inflate")
    _case(out, "c5_lpips_torchscript_given.pt", vgg_torchscript(), "TorchScript")
    _case(out, "c5_lpips_vgg_given.pth", _torch_bytes({"features.0.weight": torch.zeros(64, 3, 3, 3)}), "VGG16 network")
    return out


def _lpips_state() -> dict:
    from gan_latent_lab.loaders.vgg import LPIPS_CHANNELS

    return {f"lin{k}.model.1.weight": torch.full((1, c, 1, 1), 0.1) for k, c in enumerate(LPIPS_CHANNELS)}


# ----- latents of other tools, converted files' ancestry, run files ---------------------------------------
def _ours_npz(**change) -> bytes:
    entries = {"w.npy": _npy(np.zeros((2, 1, 8), np.float32)), "gll_fingerprint.npy": _npy(np.array("abc")),
               "gll_ancestors.npy": _npy(np.array("[]")), "gll_space.npy": _npy(np.array("w")),
               "gll_truncation_psi.npy": _npy(np.array(1.0)), "gll_seeds.npy": _npy(np.array("[0, 1]"))}
    for k, v in change.items():
        if v is None:
            entries.pop(f"{k}.npy", None)
        else:
            entries[f"{k}.npy"] = v if isinstance(v, bytes) else _npy(v)
    return _npz(entries)


def latent_cases(sentinel: str) -> list:
    out: list = []
    cmd = _shell(sentinel)
    numel = BOMB_BYTES // 4
    # class 3: bombs disguised as latents
    big_w = _npy_header("<f4", (numel // 512, 1, 512)) + bytes(BOMB_BYTES)
    _case(out, "c3_lat_npz_deflate_bomb.npz", _npz({"w.npy": big_w}, zipfile.ZIP_DEFLATED), "inflate")
    _case(out, "c3_lat_npz_central_dir_lies.npz", _lie_about_size(_npz({"w.npy": _npy(np.zeros((1, 1, 8), np.float32))}),
                                                                  "w.npy", 0xFFFFFFF0), "inflate")
    _case(out, "c3_lat_npz_header_huge.npz", _npz({"w.npy": _npy_header("<f4", (2**40, 18, 512)) + b"\0" * 64}), "declares")
    _case(out, "c3_lat_npz_bzip2.npz", _npz({"w.npy": _npy(np.zeros((1, 1, 8), np.float32))}, zipfile.ZIP_BZIP2),
          "compression method")
    _case(out, "c3_lat_npz_object.npz", _npz({"w.npy": _npy_header("|O", (2,)) + b"\0" * 16}), "not read")
    _case(out, "c3_lat_pt_deflate_bomb.pt", torch_zip({"latent": _tensor(_Storage("0", numel), 0, (numel // 512, 512), (512, 1))},
                                                      {"0": bytes(BOMB_BYTES)}, compress=zipfile.ZIP_DEFLATED), "inflate")
    _case(out, "c3_lat_pt_central_dir_lies.pt", _lie_about_size(_torch_bytes(torch.zeros(1, 18, 8)), "archive/data/0", 0xFFFFFFF0),
          "inflate")
    _case(out, "c3_lat_pt_lzma.pt", torch_zip(_tensor(_Storage("0", 4), 0, (1, 4), (4, 1)), {"0": _floats(4)},
                                              compress=zipfile.ZIP_LZMA), "compression method")
    _case(out, "c3_lat_npy_header_huge.npy", _npy_header("<f4", (2**31, 18, 512)) + b"\0" * 64, "declares")
    # class 2: views in latent and run files (read weights-only, after the same scan as checkpoints)
    data4 = {"0": _floats(4)}
    for tag in ("offset_past_end", "size_past_end", "stride0_expand_gb", "negative_stride", "forty_dims"):
        off, size, stride = VIEW_ATTACKS[tag]
        _case(out, f"c2_lat_pt_{tag}.pt", torch_zip(_tensor(_Storage("0", 4), off, size, stride), data4))
        _case(out, f"c2_lat_legacy_{tag}.pt", torch_legacy(_tensor(_Storage("0", 4), off, size, stride), {"0": (_floats(4), 4)}))
    for name in ("c2_lat_pt_offset_past_end.pt", "c2_lat_legacy_offset_past_end.pt"):
        EXPECT[name] = "does not hold"
    EXPECT["c2_lat_pt_stride0_expand_gb.pt"] = EXPECT["c2_lat_legacy_stride0_expand_gb.pt"] = "declare"
    _case(out, "c2_lat_rosinality_offset_past_end.pt", torch_zip(
        {"img.png": {"latent": _tensor(_Storage("0", 4), 100, (4,), (1,)), "noise": []}}, data4), "does not hold")
    _case(out, "c2_run_stride0_expand_gb.voynov", torch_zip(
        {"format": "gan-latent-lab-voynov", "directions": _tensor(_Storage("0", 4), 0, (1 << 15, 1 << 15), (0, 0))}, data4),
        "declare")
    _case(out, "c2_run_offset_past_end.voynov", torch_zip(
        {"format": "gan-latent-lab-voynov", "directions": _tensor(_Storage("0", 4), 100, (2, 2), (2, 1))}, data4),
        "does not hold")
    _case(out, "c3_run_deflate_bomb.voynov", torch_zip({"directions": _tensor(_Storage("0", numel), 0, (numel,), (1,))},
                                                       {"0": bytes(BOMB_BYTES)}, compress=zipfile.ZIP_DEFLATED), "inflate")
    # hostile pickles and format sniffing
    _case(out, "c1_lat_pt_os_system.pt", _torch_bytes({"x": _Reduce(os.system, cmd)}), "system")
    _case(out, "c1_lat_legacy_os_system.pt", _torch_bytes({"x": _Reduce(os.system, cmd)}, legacy=True), "system")
    _case(out, "c1_lat_raw_pickle.pt", pickle.dumps({"latent": [1.0, 2.0]}, protocol=2), "not a torch file")
    _case(out, "c1_lat_raw_pickle_os_system.pt", _dump_global("os", "system", cmd), "not a torch file")
    _case(out, "c5_lat_torchscript.pt", vgg_torchscript(), "TorchScript")
    _case(out, "c5_lat_pt_complex.pt", torch_zip(_tensor(_Storage("0", 2, "ComplexFloatStorage"), 0, (1, 2), (2, 1)), data4),
          "complex")
    _case(out, "c5_lat_pt_int.pt", _torch_bytes(torch.zeros(1, 18, 8, dtype=torch.int32)), "floating-point")
    _case(out, "c5_lat_pt_bool.pt", _torch_bytes(torch.zeros(1, 18, 8, dtype=torch.bool)), "floating-point")
    # class 6: latents that are not latents
    _case(out, "c6_lat_pt_nan.pt", _torch_bytes(torch.full((1, 18, 8), float("nan"))), "NaN")
    _case(out, "c6_lat_pt_empty_dict.pt", _torch_bytes({}), "not a latent")
    _case(out, "c6_lat_pt_list.pt", _torch_bytes([torch.zeros(1, 8)]), "not a latent")
    _case(out, "c6_lat_rosinality_latent_text.pt", _torch_bytes({"img.png": {"latent": "w", "noise": []}}), "latent")
    _case(out, "c6_lat_rosinality_latent_4d.pt", _torch_bytes({"latent": torch.zeros(1, 1, 1, 8)}), "latent")
    _case(out, "c6_lat_rosinality_shapes_differ.pt", _torch_bytes(
        {"a.png": {"latent": torch.zeros(8)}, "b.png": {"latent": torch.zeros(2, 8)}}), "different shapes")
    _case(out, "c6_lat_e4e_without_model.pt", _torch_bytes(torch.zeros(2, 18, 8)), "name no model")
    _case(out, "c6_lat_npy_int.npy", _npy(np.ones((1, 8), np.int32)), "not read")
    _case(out, "c6_lat_npy_nan.npy", _npy(np.full((1, 8), np.nan, np.float32)), "NaN")
    _case(out, "c6_lat_npz_nan_w.npz", _npz({"w.npy": _npy(np.full((1, 1, 8), np.nan, np.float32))}), "NaN")
    _case(out, "c6_lat_npz_no_w.npz", _npz({"x.npy": _npy(np.ones((1, 1, 8), np.float32))}), "dlatents")
    _case(out, "c6_lat_npz_empty.npz", _npz({}), "")
    for tag, change, fragment in [
        ("ancestors_nested", {"gll_ancestors": np.array("[" * 1000 + "]" * 1000)}, "nests"),
        ("ancestors_not_alnum", {"gll_ancestors": np.array('["../x"]')}, "ancestors"),
        ("ancestors_1001", {"gll_ancestors": np.array(json.dumps(["a"] * 1001))}, "ancestors"),
        ("ancestors_dict", {"gll_ancestors": np.array('{"a": 1}')}, "ancestors"),
        ("fingerprint_path", {"gll_fingerprint": np.array("../../etc")}, "fingerprint"),
        ("seeds_nested", {"gll_seeds": np.array("[" * 1000 + "]" * 1000)}, "nests"),
        ("seeds_negative", {"gll_seeds": np.array("[-1, 2]")}, "seeds"),
        ("seeds_nan", {"gll_seeds": np.array("[NaN]")}, "NaN"),
        ("space_q", {"gll_space": np.array("q")}, "space"),
        ("psi_nan", {"gll_truncation_psi": np.array(np.nan)}, "psi"),
        ("psi_many", {"gll_truncation_psi": np.ones(5)}, "psi"),
        ("psi_int", {"gll_truncation_psi": np.array(1, np.int32)}, "not read"),
        ("z_nan", {"gll_z": np.full((2, 8), np.nan, np.float32)}, "gll_z"),
        ("z_rows_differ", {"gll_z": np.zeros((5, 8), np.float32)}, "gll_z"),
        ("c_3d", {"gll_c": np.zeros((2, 1, 8), np.float32)}, "gll_c"),
        ("codes_2d", {"w": np.zeros((2, 8), np.float32)}, "slots"),
    ]:
        _case(out, f"c6_lat_npz_ours_{tag}.npz", _ours_npz(**change), fragment)
    _case(out, "c6_lat_ancestors_1001.safetensors", _latent_file(ancestors=json.dumps(["a"] * 1001)), "ancestors")
    _case(out, "c6_lat_fingerprint_path.safetensors", _latent_file(fingerprint="../x"), "fingerprint")
    # converted generators' ancestry (metadata 'ancestors')
    tiny = tiny_dcgan_state()
    dc_cfg = json.loads(dtype_cases_meta()["config"])
    for tag, value, fragment in [("nested", "[" * 5000 + "]" * 5000, "nests"), ("not_alnum", '["../x"]', "ancestors"),
                                 ("1001", json.dumps(["a"] * 1001), "ancestors"), ("nan", "[NaN]", "NaN"),
                                 ("not_json", "[oops", "JSON")]:
        _case(out, f"c6_native_ancestors_{tag}.safetensors", _native(tiny, "dcgan", dc_cfg, ancestors=value), fragment)
    return out


def dtype_cases_meta() -> dict:
    """The safetensors metadata of the tiny DCGAN converted by us (format, arch, config)."""
    return {"format": "gan-latent-lab", "arch": "dcgan", "config": json.dumps({
        "layers": [{"index": 0, "kind": "convT", "in": 8, "out": 16, "kernel": 4, "stride": 1, "padding": 0, "bias": False},
                   {"index": 1, "kind": "bn", "features": 16},
                   {"index": 3, "kind": "convT", "in": 16, "out": 3, "kernel": 4, "stride": 2, "padding": 1, "bias": False}],
        "in_dim": 8, "z_dim": 8, "c_dim": 0, "resolution": 8, "img_channels": 3})}


# =====================================================================================================
# The same classes on the e4e / pSp code of issue 16: encoder checkpoints (second part enc_, read by
# load_encoder), e4e's direction files age.pt / pose.pt / ffhq_pca.pt (e4e_, read by load_directions)
# and image files for the workflow runner's LoadImage (img_, read from the corpus folder as its input
# folder).
# =====================================================================================================
_ENCODER_STATES: dict = {}
TINY_OPTS = {"encoder_type": "Encoder4Editing", "stylegan_size": 4, "output_size": 4, "start_from_latent_avg": True,
             "input_nc": 3, "label_nc": 0, "checkpoint_path": None, "dataset_type": "ffhq_encode", "lpips_lambda": 0.8}
"""The options of the tiny e4e below, as the official training saves them (a dict of its arguments)."""


def tiny_encoder_state(kind: str = "e4e") -> dict:
    """The smallest encoder the layout allows: IR-SE-50 stages 8 wide (squeeze-excitation 1 wide).
    ``e4e``: 2 style blocks of width 8 (a 4 px StyleGAN2); ``psp_w``: one w of 32, for the 8-slot
    StyleGAN2 oracle (the stand-in decoder)."""
    from model_files import encoder_state

    if kind not in _ENCODER_STATES:
        _ENCODER_STATES[kind] = encoder_state(kind, (8, 8, 8, 8), 8 if kind == "e4e" else 32, 2, se_hidden=1)
    return {k: v.clone() for k, v in _ENCODER_STATES[kind].items()}


def encoder_file(sd: dict | None = None, opts: Any = None, latent_avg: Any = "default", decoder: dict | None = None,
                 legacy: bool = False, **top) -> bytes:
    """An e4e checkpoint ``{"state_dict": encoder.* + decoder.*, "opts", "latent_avg"}`` (the tiny e4e by default)."""
    sd = tiny_encoder_state() if sd is None else sd
    obj = {"state_dict": {**sd, **{f"decoder.{k}": v for k, v in (decoder or {}).items()}},
           "opts": dict(TINY_OPTS) if opts is None else opts}
    if isinstance(latent_avg, str):
        latent_avg = torch.zeros(2, 8)
    if latent_avg is not None:
        obj["latent_avg"] = latent_avg
    obj.update(top)
    return _torch_bytes(obj, legacy)


def standin_decoder() -> tuple[dict, torch.Tensor]:
    """The StyleGAN2 oracle (32 px, 8 slots of w 32) in rosinality's names, and its mean w."""
    from model_files import standin_decoder as make

    if "decoder" not in _ENCODER_STATES:
        _ENCODER_STATES["decoder"] = make()
    dec, w_avg = _ENCODER_STATES["decoder"]
    return {k: v.clone() for k, v in dec.items()}, w_avg.clone()


def encoder_with_decoder(change=None, opts: dict | None = None) -> bytes:
    """A single-w pSp (w 32) whose file holds the stand-in decoder; ``change(decoder_state)`` edits the decoder."""
    dec, w_avg = standin_decoder()
    if change is not None:
        change(dec)
    o = {**TINY_OPTS, "encoder_type": "BackboneEncoderUsingLastLayerIntoW", "stylegan_size": 32, "output_size": 32,
         **(opts or {})}
    return encoder_file(tiny_encoder_state("psp_w"), o, w_avg[None], dec)


def _changed(sd: dict, key: str, value) -> dict:
    out = dict(sd)
    if value is None:
        out.pop(key)
    elif callable(value):
        out[key] = out[key].clone()
        value(out[key])
    else:
        out[key] = value
    return out


def _set_first(v: float):
    def f(t: torch.Tensor) -> None:
        t.view(-1)[0] = v
    return f


MINIMAL_ENCODER = {"encoder.input_layer.0.weight": torch.zeros(8, 3, 3, 3)}
"""An encoder.* tensor, so that the file is taken for an encoder and its ``opts`` are read (they are checked
before the network's shapes, so the refusal names the option)."""

OPTS_ATTACKS = {
    "encoder_type_unknown": ("encoder_type", "ResNetBackboneEncoder"), "encoder_type_list": ("encoder_type", ["Encoder4Editing"]),
    "encoder_type_dict": ("encoder_type", {"a": 1}), "encoder_type_none": ("encoder_type", None),
    "encoder_type_int": ("encoder_type", 7), "encoder_type_1mb": ("encoder_type", "E" * (1 << 20)),
    "stylegan_size_zero": ("stylegan_size", 0), "stylegan_size_negative": ("stylegan_size", -64),
    "stylegan_size_nan": ("stylegan_size", float("nan")), "stylegan_size_inf": ("stylegan_size", float("inf")),
    "stylegan_size_neg_inf": ("stylegan_size", float("-inf")), "stylegan_size_2e30": ("stylegan_size", 2**30),
    "stylegan_size_2e100": ("stylegan_size", 2**100), "stylegan_size_1e300": ("stylegan_size", 1e300),
    "stylegan_size_96": ("stylegan_size", 96), "stylegan_size_fraction": ("stylegan_size", 64.5),
    "stylegan_size_text": ("stylegan_size", "1024"), "stylegan_size_bool": ("stylegan_size", True),
    "stylegan_size_list": ("stylegan_size", [64]), "output_size_nan": ("output_size", float("nan")),
    "output_size_2e30": ("output_size", 2**30), "output_size_text": ("output_size", "x"),
    "output_size_negative": ("output_size", -4), "n_styles_zero": ("n_styles", 0), "n_styles_1e9": ("n_styles", 10**9),
    "n_styles_nan": ("n_styles", float("nan")), "n_styles_negative": ("n_styles", -1),
    "input_nc_zero": ("input_nc", 0), "input_nc_nan": ("input_nc", float("nan")), "input_nc_1e6": ("input_nc", 10**6),
    "input_nc_gray": ("input_nc", 1), "label_nc_negative": ("label_nc", -1), "label_nc_text": ("label_nc", "x"),
    "label_nc_segmentation": ("label_nc", 19), "start_from_latent_avg_text": ("start_from_latent_avg", "yes"),
    "start_from_latent_avg_2": ("start_from_latent_avg", 2), "start_from_latent_avg_nan": ("start_from_latent_avg", float("nan")),
    "start_from_latent_avg_list": ("start_from_latent_avg", [1]),
}


def encoder_cases(sentinel: str) -> list:
    import argparse

    out: list = []
    cmd = _shell(sentinel)
    tiny = tiny_encoder_state()
    # class 1: hostile globals anywhere in an encoder file, read weights-only
    for tag, top, fragment in [
        ("opts_os_system", {"opts": _Reduce(os.system, cmd)}, "system"),
        ("latent_avg_eval", {"latent_avg": _Reduce(eval, f"open({sentinel!r}, 'w')")}, "eval"),
        ("weight_subprocess", {"state_dict": {**tiny, "encoder.x": _Reduce(__import__("subprocess").Popen, ["sh", "-c", cmd])}},
         "Popen"),
        ("opts_foreign_class", {"opts": _Reduce(argparse.ArgumentParser)}, "ArgumentParser"),
        ("opts_numpy_scalar", {"opts": {**TINY_OPTS, "stylegan_size": np.int64(4)}}, "numpy"),
        ("opts_numpy_array", {"opts": np.array([1, "a", None], dtype=object)}, "numpy"),
        ("torch_load", {"opts": _Reduce(torch.load, sentinel)}, "load"),
    ]:
        _case(out, f"c1_enc_{tag}.pt", encoder_file(tiny, **top), fragment)
    _case(out, "c1_enc_legacy_os_system.pt", encoder_file(tiny, _Reduce(os.system, cmd), legacy=True), "system")
    _case(out, "c1_enc_raw_pickle.pt", pickle.dumps({"state_dict": MINIMAL_ENCODER, "opts": TINY_OPTS}, protocol=4),
          "torch files")
    _case(out, "c1_enc_raw_pickle_os_system.pt", _dump_global("os", "system", cmd), "system")
    _case(out, "c1_enc_torchscript.pt", vgg_torchscript(), "TorchScript")
    deep = b"\x80\x02}(" + _unicode("state_dict") + b"}" + _unicode("opts") + b"]" * 50_000 + b"a" * 49_999 + b"u."
    _case(out, "c1_enc_opts_nested_50000.pt", torch_zip(None, {}, data_pkl=deep), "")
    # class 2: views past their storage, stride-0 views declaring gigabytes (zip and legacy)
    data4 = {"0": _floats(4)}
    st = _Storage("0", 4)
    for tag in ("offset_past_end", "size_past_end", "stride0_expand_gb", "negative_stride", "forty_dims", "huge_int_size"):
        off, size, stride = VIEW_ATTACKS[tag]
        obj = {"state_dict": {"encoder.input_layer.0.weight": _tensor(st, off, size, stride)}, "opts": TINY_OPTS}
        _case(out, f"c2_enc_zip_{tag}.pt", torch_zip(obj, data4),
              {"offset_past_end": "does not hold", "size_past_end": "does not hold", "stride0_expand_gb": "declare"}.get(tag))
    _case(out, "c2_enc_latent_avg_stride0_gb.pt", torch_zip(
        {"state_dict": {}, "opts": TINY_OPTS, "latent_avg": _tensor(st, 0, (1 << 15, 1 << 15), (0, 0))}, data4), "declare")
    for tag in ("offset_past_end", "stride0_expand_gb"):
        off, size, stride = VIEW_ATTACKS[tag]
        _case(out, f"c2_enc_legacy_{tag}.pt", torch_legacy(
            {"state_dict": {"encoder.input_layer.0.weight": _tensor(st, off, size, stride)}, "opts": TINY_OPTS},
            {"0": (_floats(4), 4)}), "does not hold" if tag == "offset_past_end" else "declare")
    _case(out, "c2_enc_entry_smaller.pt", torch_zip(
        {"state_dict": {"encoder.input_layer.0.weight": _tensor(_Storage("0", 1000), 0, (1000,), (1,))}}, data4), "entry holds")
    # class 3: decompression bombs
    numel = BOMB_BYTES // 4
    _case(out, "c3_enc_deflate_bomb.pt", torch_zip(
        {"state_dict": {"encoder.input_layer.0.weight": _tensor(_Storage("0", numel), 0, (numel,), (1,))}, "opts": TINY_OPTS},
        {"0": bytes(BOMB_BYTES)}, compress=zipfile.ZIP_DEFLATED), "inflate")
    small = torch_zip({"state_dict": {"encoder.input_layer.0.weight": _tensor(st, 0, (4,), (1,))}, "opts": TINY_OPTS}, data4)
    _case(out, "c3_enc_central_dir_lies.pt", _lie_about_size(small, "archive/data/0", 0xFFFFFFF0), "inflate")
    _case(out, "c3_enc_data_pkl_lies.pt", _lie_about_size(small, "archive/data.pkl", 0xFFFFFFF0), "inflate")
    _case(out, "c3_enc_bzip2.pt", torch_zip({"state_dict": {"encoder.input_layer.0.weight": _tensor(st, 0, (4,), (1,))}},
                                            data4, compress=zipfile.ZIP_BZIP2), "compression method")
    # class 4: every kind of bad value in opts, named with the field
    for tag, (field, value) in OPTS_ATTACKS.items():
        _case(out, f"c4_enc_opts_{tag}.pt", encoder_file(MINIMAL_ENCODER, {**TINY_OPTS, field: value}),
              "RGB image encoders" if tag in ("input_nc_gray", "label_nc_segmentation") else f"'{field}'")
    _case(out, "c4_enc_opts_no_encoder_type.pt", encoder_file(MINIMAL_ENCODER, {k: v for k, v in TINY_OPTS.items()
                                                                                if k != "encoder_type"}), "encoder_type")
    for tag, opts, fragment in [("list", [1, 2], "list"), ("text", "opts", "str"), ("int", 5, "int"),
                                ("tensor", torch.ones(3), "a Tensor, not a dictionary")]:
        _case(out, f"c4_enc_opts_is_{tag}.pt", encoder_file(MINIMAL_ENCODER, opts), fragment)
    _case(out, "c4_enc_opts_missing.pt", _torch_bytes({"state_dict": MINIMAL_ENCODER}), "no 'opts'")
    _case(out, "c4_enc_opts_namespace_nan.pt", encoder_file(MINIMAL_ENCODER, argparse.Namespace(
        **{**TINY_OPTS, "stylegan_size": float("nan")})), "'stylegan_size'")
    _case(out, "c4_enc_stylegan_size_disagrees.pt", encoder_file(tiny, {**TINY_OPTS, "stylegan_size": 1024}),
          "2 style blocks but the options say stylegan_size = 1024")
    _case(out, "c4_enc_output_size_disagrees.pt", encoder_file(tiny, {**TINY_OPTS, "output_size": 64}), "output_size = 64")
    _case(out, "c4_enc_n_styles_disagrees.pt", encoder_file(tiny, {**TINY_OPTS, "n_styles": 18}), "n_styles = 18")
    _case(out, "c4_enc_decoder_slots_differ.pt", encoder_with_decoder(opts={"stylegan_size": 64, "output_size": 64}),
          "the decoder takes 8 codes of 32 but the encoder writes 10")
    # class 5: element types
    for tag, key, value, fragment in [
        ("weight_int", "encoder.latlayer1.bias", torch.zeros(8, dtype=torch.int32), "torch.int32"),
        ("weight_bool", "encoder.input_layer.2.weight", torch.ones(8, dtype=torch.bool), "torch.bool"),
        ("weight_complex", "encoder.input_layer.2.weight", torch.ones(8, dtype=torch.complex64), "complex"),
        ("weight_float64_past_float32", "encoder.body.4.res_layer.1.weight", torch.full((8, 8, 3, 3), 1e300, dtype=torch.float64),
         "float32 range"),
    ]:
        _case(out, f"c5_enc_{tag}.pt", encoder_file(_changed(tiny, key, value)), fragment)
    _case(out, "c5_enc_latent_avg_int.pt", encoder_file(tiny, latent_avg=torch.zeros(2, 8, dtype=torch.int64)),
          "floating-point")
    _case(out, "c5_enc_decoder_int.pt", encoder_with_decoder(lambda d: d.__setitem__("style.1.weight", d["style.1.weight"].long())),
          "decoder.style.1.weight holds torch.int64")
    _case(out, "c5_enc_safetensors.pt", _safetensors_bytes(MINIMAL_ENCODER), "safetensors")
    # class 6: values (NaN / infinity / negative variances), structure, and the decoder's rosinality layout
    for tag, key, change, fragment in [
        ("body_nan", "encoder.body.5.res_layer.3.weight", _set_first(float("nan")), "encoder.body.5.res_layer.3.weight holds NaN"),
        ("style_inf", "encoder.styles.1.linear.weight", _set_first(float("inf")), "encoder.styles.1.linear.weight holds NaN"),
        ("lateral_neg_inf", "encoder.latlayer2.weight", _set_first(float("-inf")), "infinite"),
        ("prelu_nan", "encoder.input_layer.2.weight", _set_first(float("nan")), "input_layer.2.weight"),
        ("se_nan", "encoder.body.20.res_layer.5.fc1.weight", _set_first(float("nan")), "fc1.weight holds NaN"),
        ("bn_mean_nan", "encoder.body.0.res_layer.0.running_mean", _set_first(float("nan")), "running_mean holds NaN"),
        ("bn_var_nan", "encoder.body.9.res_layer.4.running_var", _set_first(float("nan")), "running_var holds NaN"),
        ("bn_var_negative", "encoder.body.3.res_layer.0.running_var", _set_first(-1.0), "negative variances"),
        ("stem_var_negative", "encoder.input_layer.1.running_var", _set_first(-1e-3), "negative variances"),
        ("missing_style_block", "encoder.styles.1.linear.bias", None, "encoder.styles.1.linear.bias is missing"),
        ("unit_width_breaks", "encoder.body.10.res_layer.1.weight", torch.zeros(8, 16, 3, 3), "unit 10 reads 8 channels"),
        ("extra_unit", "encoder.body.24.res_layer.2.weight", torch.ones(8), "also has units [24]"),
        ("unknown_tensor", "encoder.evil.weight", torch.ones(2), "encoder.evil.weight"),
        ("stem_0d", "encoder.input_layer.0.weight", torch.tensor(1.0), "3x3 convolution"),
    ]:
        _case(out, f"c6_enc_{tag}.pt", encoder_file(_changed(tiny, key, change)), fragment)
    for tag, avg, fragment in [("nan", torch.full((2, 8), float("nan")), "NaN"), ("inf", torch.full((1, 8), float("inf")), "NaN"),
                               ("shape", torch.zeros(3, 8), "latent_avg is [3, 8]"), ("0d", torch.tensor(1.0), "latent_avg is []"),
                               ("empty", torch.zeros(0, 8), "latent_avg is [0, 8]"), ("list", [0.0] * 8, "list"),
                               ("missing", None, "no latent_avg")]:
        _case(out, f"c6_enc_latent_avg_{tag}.pt", encoder_file(tiny, latent_avg=avg), fragment)
    for tag, obj, fragment in [("top_list", [tiny], "state_dict"), ("top_tensor", torch.zeros(2), "state_dict"),
                               ("state_dict_list", {"state_dict": [1], "opts": TINY_OPTS}, "state_dict"),
                               ("state_dict_nested", {"state_dict": {**MINIMAL_ENCODER, "encoder.x": {"y": torch.ones(1)}},
                                                      "opts": TINY_OPTS}, "not named tensors"),
                               ("state_dict_int_key", {"state_dict": {**MINIMAL_ENCODER, 5: torch.ones(1)}, "opts": TINY_OPTS},
                                "not named tensors"),
                               ("no_encoder_tensors", {"state_dict": {"g_ema.x": torch.ones(1)}, "opts": TINY_OPTS}, "encoder.*")]:
        _case(out, f"c6_enc_{tag}.pt", _torch_bytes(obj), fragment)

    def rename(old: str, new: str):
        def f(d: dict) -> None:
            for k in [k for k in d if k.startswith(old)]:
                d[new + k[len(old):]] = d.pop(k)
        return f

    def drop(prefix: str):
        def f(d: dict) -> None:
            for k in [k for k in d if k.startswith(prefix)]:
                del d[k]
        return f

    def edit(key: str, value):
        def f(d: dict) -> None:
            if callable(value):
                d[key] = d[key].clone()
                value(d[key])
            else:
                d[key] = value
        return f

    for tag, change, fragment in [
        ("conv_nan", edit("convs.0.conv.weight", _set_first(float("nan"))), "decoder.convs.0.conv.weight holds NaN"),
        ("const_inf", edit("input.input", _set_first(float("inf"))), "decoder.input.input holds NaN"),
        ("mapping_nan", edit("style.2.weight", _set_first(float("nan"))), "decoder.style.2.weight holds NaN"),
        ("noise_nan", edit("noises.noise_3", _set_first(float("nan"))), "noise_3 holds NaN"),
        ("torgb_bias_inf", edit("to_rgbs.1.bias", _set_first(float("-inf"))), "to_rgbs.1.bias holds NaN"),
        ("blur_nan", edit("convs.2.conv.blur.kernel", _set_first(float("nan"))), "blur.kernel holds NaN"),
        ("float64_past_float32", edit("style.1.weight", torch.full((32, 32), 1e300, dtype=torch.float64)), "float32 range"),
        ("mapping_gap", rename("style.2.", "style.3."), "style.N) are numbered [1, 3]"),
        ("convs_gap", drop("convs.3."), "convs.N) are numbered"),
        ("torgb_gap", drop("to_rgbs.0."), "to_rgbs.N) are numbered [1, 2]"),
        ("noise_missing", drop("noises.noise_4"), "noise maps"),
        ("noise_rank", edit("noises.noise_0", torch.zeros(4, 4)), "noise map"),
        ("const_0d", edit("input.input", torch.tensor(1.0)), "input.input is []"),
        ("conv_rank", edit("conv1.conv.weight", torch.zeros(32, 32, 3, 3)), "conv1.conv.weight is [32, 32, 3, 3]"),
        ("kernel_300_taps", edit("to_rgbs.0.upsample.kernel", torch.ones(300, 300)), "resample_filter"),
        ("noise_huge", edit("noises.noise_0", torch.zeros(1, 1, 1000, 1000)), "noise_const"),
        ("not_rosinality", lambda d: [d.pop(k) for k in list(d) if k != "input.input"], "not a rosinality StyleGAN2"),
    ]:
        _case(out, f"c6_enc_decoder_{tag}.pt", encoder_with_decoder(change), fragment)
    return out


def _e4e_zip(obj) -> bytes:
    return torch_zip(obj, {"0": _floats(4)})


def e4e_direction_cases(sentinel: str) -> list:
    out: list = []
    cmd = _shell(sentinel)
    comp = torch.ones(2, 1, 8)
    # class 1: hostile globals, other containers
    _case(out, "c1_e4e_direction_os_system.pt", _torch_bytes(_Reduce(os.system, cmd)), "system")
    _case(out, "c1_e4e_comp_eval.pt", _torch_bytes({"comp": _Reduce(eval, f"open({sentinel!r}, 'w')"), "std": torch.ones(2)}),
          "eval")
    _case(out, "c1_e4e_legacy_os_system.pt", _torch_bytes({"comp": _Reduce(os.system, cmd)}, legacy=True), "system")
    _case(out, "c1_e4e_numpy_direction.pt", _torch_bytes(np.ones((1, 8), np.float32)), "numpy")
    _case(out, "c1_e4e_std_popen.pt", _torch_bytes({"comp": comp, "std": _Reduce(__import__("subprocess").Popen, cmd)}), "Popen")
    _case(out, "c1_e4e_raw_pickle_os_system.pt", _dump_global("os", "system", cmd), "bare pickle")
    # class 2: views (zip and legacy)
    st = _Storage("0", 4)
    _case(out, "c2_e4e_offset_past_end.pt", _e4e_zip(_tensor(st, 100, (1, 4), (4, 1))), "does not hold")
    _case(out, "c2_e4e_size_past_end.pt", _e4e_zip(_tensor(st, 0, (1, 18, 512), (9216, 512, 1))), "does not hold")
    _case(out, "c2_e4e_pose_stride0_gb.pt", _e4e_zip(_tensor(st, 0, (1, 1 << 15, 1 << 15), (0, 0, 0))), "declare")
    _case(out, "c2_e4e_comp_offset_past_end.pt", _e4e_zip({"comp": _tensor(st, 3, (2, 1, 4), (4, 4, 1)),
                                                           "std": _tensor(st, 0, (2,), (1,))}), "does not hold")
    _case(out, "c2_e4e_legacy_offset_past_end.pt", torch_legacy(_tensor(st, 100, (1, 4), (4, 1)), {"0": (_floats(4), 4)}),
          "does not hold")
    _case(out, "c2_e4e_negative_stride.pt", _e4e_zip(_tensor(st, 3, (1, 4), (4, -1))), "")
    # class 3: bombs
    numel = BOMB_BYTES // 4
    _case(out, "c3_e4e_comp_deflate_bomb.pt", torch_zip(
        {"comp": _tensor(_Storage("0", numel), 0, (numel // 512, 1, 512), (512, 512, 1)),
         "std": _tensor(_Storage("1", 1), 0, (1,), (1,))},
        {"0": bytes(BOMB_BYTES), "1": _floats(1)}, compress=zipfile.ZIP_DEFLATED), "inflate")
    _case(out, "c3_e4e_central_dir_lies.pt", _lie_about_size(_torch_bytes(torch.ones(1, 8)), "archive/data/0", 0xFFFFFFF0),
          "inflate")
    _case(out, "c3_e4e_lzma.pt", torch_zip(_tensor(st, 0, (1, 4), (4, 1)), {"0": _floats(4)}, compress=zipfile.ZIP_LZMA),
          "compression method")
    # class 5: element types
    for tag, obj, fragment in [("direction_int", torch.ones(1, 8, dtype=torch.int64), "torch.int64"),
                               ("direction_bool", torch.ones(1, 8, dtype=torch.bool), "torch.bool"),
                               ("direction_complex", torch.ones(1, 8, dtype=torch.complex64), "complex"),
                               ("std_int", {"comp": comp, "std": torch.ones(2, dtype=torch.int32)}, "torch.int32")]:
        _case(out, f"c5_e4e_{tag}.pt", _torch_bytes(obj), fragment)
    # class 6: NaN, zero vectors, wrong shapes, values past float32
    rows = torch.randn(1, 18, 8, generator=torch.Generator().manual_seed(0))
    for tag, obj, fragment in [
        ("nan", torch.tensor([[1.0, float("nan")]]), "NaN"), ("inf", torch.tensor([[float("inf"), 1.0]]), "NaN"),
        ("neg_inf", torch.full((1, 18, 8), float("-inf")), "NaN"), ("zero", torch.zeros(1, 512), "zero length"),
        ("pose_zero", torch.zeros(1, 18, 512), "zero length"), ("tiny", torch.full((1, 8), 1e-30), "zero length"),
        ("float64_1e308", torch.full((1, 8), 1e308, dtype=torch.float64), "overflows"),
        ("pose_rows_differ", rows, "rows of this [1, 18, 8] tensor differ"),
        ("two_directions", torch.eye(2, 8), "rows of this [2, 8] tensor differ"),
        ("scalar", torch.tensor(1.0), "this one is []"), ("empty", torch.zeros(0), "this one is [0]"),
        ("width_zero", torch.zeros(1, 0), "this one is [1, 0]"), ("four_dims", torch.ones(1, 1, 2, 8), "[1, 1, 2, 8]"),
        ("width_70000", torch.ones(1, 70000), "[1, 70000]"),
        ("comp_nan", {"comp": torch.full((2, 1, 8), float("nan")), "std": torch.ones(2)}, "comp holds NaN"),
        ("comp_zero_row", {"comp": torch.cat([torch.ones(1, 1, 8), torch.zeros(1, 1, 8)]), "std": torch.ones(2)}, "zero length"),
        ("comp_empty", {"comp": torch.zeros(0, 1, 8), "std": torch.zeros(0)}, "[0, 1, 8]"),
        ("comp_two_per_row", {"comp": torch.ones(2, 2, 8), "std": torch.ones(2)}, "[2, 2, 8]"),
        ("comp_huge", {"comp": torch.full((2, 1, 8), 3e38), "std": torch.full((2,), 3e38)}, "float32 range"),
        ("std_negative", {"comp": comp, "std": -torch.ones(2)}, "not positive"),
        ("std_zero", {"comp": comp, "std": torch.zeros(2)}, "not positive"),
        ("std_nan", {"comp": comp, "std": torch.tensor([1.0, float("nan")])}, "std holds NaN"),
        ("std_count", {"comp": comp, "std": torch.ones(5)}, "one value per component (2)"),
        ("std_0d", {"comp": comp, "std": torch.tensor(1.0)}, "std is []"),
        ("std_missing", {"comp": comp}, "lacks std"),
        ("mean_nan", {"comp": comp, "std": torch.ones(2), "mean": torch.full((1, 8), float("nan"))}, "mean holds NaN"),
        ("mean_width", {"comp": comp, "std": torch.ones(2), "mean": torch.ones(1, 7)}, "mean is [1, 7]"),
        ("mean_past_float32", {"comp": comp, "std": torch.ones(2), "mean": torch.full((1, 8), 1e300, dtype=torch.float64)},
         "float32 range"),
        ("mean_text", {"comp": comp, "std": torch.ones(2), "mean": "w_avg"}, "mean is a str"),
        ("comp_nested", {"comp": {"x": torch.ones(1)}, "std": torch.ones(1)}, "comp is a dict"),
        ("a_list", [torch.ones(8)], "holds a list"), ("a_string", "age", "holds a str"), ("none", None, "holds a NoneType"),
    ]:
        _case(out, f"c6_e4e_{tag}.pt", _torch_bytes(obj), fragment)
    return out


# ----- images for the workflow runner's LoadImage ---------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, rows: bytes | None = None, bit_depth: int = 1, color: int = 0,
              extra: bytes = b"") -> bytes:
    """A PNG written chunk by chunk; ``rows=None``: every row zero, compressed as it is produced, so a few
    KB of file can declare millions of pixels (a decompression bomb whose data is all there)."""
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    if rows is None:
        comp = zlib.compressobj(9)
        row = bytes(1 + (width * bit_depth * (3 if color == 2 else 1) + 7) // 8)
        parts = [comp.compress(row) for _ in range(height)]
        rows = b"".join(parts) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra + _png_chunk(b"IDAT", rows)
            + _png_chunk(b"IEND", b""))


def small_png() -> bytes:
    """A valid 32x24 RGB PNG of noise (its pixel data spans a few KB, so a cut lands inside it)."""
    from PIL import Image

    buf = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def gif_bytes(count: int, side: int) -> bytes:
    """An animated GIF of ``count`` frames of ``side`` x ``side`` pixels, black and white in turn."""
    from PIL import Image

    palette = [0, 0, 0, 255, 255, 255] + [0] * 762
    frames = []
    for i in range(count):
        frame = Image.new("P", (side, side), i % 2)
        frame.putpalette(palette)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], optimize=False, disposal=1)
    return buf.getvalue()


def image_cases() -> list:
    from PIL import Image

    out: list = []
    # class 3: bombs, refused from the size the header declares, before a pixel is decoded
    _case(out, "c3_img_png_bomb_6000px.png", png_bytes(6000, 6000), "6000x6000")
    _case(out, "c3_img_png_header_100000px.png", png_bytes(100_000, 100_000, rows=b"x"), "more pixels")
    _case(out, "c3_img_png_header_20000px.png", png_bytes(20_000, 20_000, rows=b"x"), "more pixels")
    _case(out, "c3_img_gif_40_frames_1mp.gif", gif_bytes(40, 1024), "in 33 frames")
    many = io.BytesIO()
    dots = [Image.new("RGB", (1, 1), (i % 256, i // 256, 0)) for i in range(1100)]
    dots[0].save(many, "GIF", save_all=True, append_images=dots[1:])
    _case(out, "c3_img_gif_1100_frames.gif", many.getvalue(), "more than 1024 frames")
    tiff = io.BytesIO()
    Image.new("L", (8, 8)).save(tiff, "TIFF")
    data = bytearray(tiff.getvalue())  # ImageWidth and ImageLength (LONG entries) -> 60000 x 60000
    for tag in (256, 257):
        pos = data.find(struct.pack("<HHI", tag, 4, 1))
        struct.pack_into("<HHII", data, pos, tag, 4, 1, 60000)
    _case(out, "c3_img_tiff_header_60000px.tif", bytes(data), "more pixels")
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, "JPEG")
    data = bytearray(jpeg.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65000, 65000)
    _case(out, "c3_img_jpeg_header_65000px.jpg", bytes(data), "more pixels")
    # class 6: not images, damaged images
    png = small_png()
    _case(out, "c6_img_truncated.png", png[: len(png) * 2 // 3], "truncated")
    _case(out, "c6_img_text.png", b"this is not an image\n", "not an image file")
    _case(out, "c6_img_empty.png", b"", "not an image file")
    _case(out, "c6_img_html.png", b"<html><body>404</body></html>", "not an image file")
    _case(out, "c6_img_npy.png", _npy(np.zeros((4, 4), np.float32)), "not an image file")
    bad_crc = bytearray(png)
    bad_crc[29] ^= 0xFF  # inside IHDR's CRC
    _case(out, "c6_img_bad_crc.png", bytes(bad_crc), "not an image file")
    _case(out, "c6_img_zero_width.png", png_bytes(0, 8, rows=b"x"), "")
    _case(out, "c6_img_idat_garbage.png", png_bytes(8, 8, rows=b"\x00garbage, not deflate data"), "")
    _case(out, "c6_img_truncated.gif", many.getvalue()[:40], "")
    return out


def corpus(sentinel: str) -> list[tuple[str, Any]]:
    """Every hostile or broken file that must be refused (a dict value is a folder of files)."""
    items: list = hostile_pickles(sentinel) + hostile_torch_files(sentinel) + broken_safetensors() + misc_broken()
    for name, blob in valid_fixtures():
        items += truncations(name, blob)
    items += numpy_cases() + tensor_cases() + bomb_cases() + config_cases() + dtype_cases() + error_type_cases()
    items += papers_family_cases() + vgg_cases(sentinel) + latent_cases(sentinel)
    items += encoder_cases(sentinel) + e4e_direction_cases(sentinel) + image_cases()
    return items


def reader_for(name: str) -> str:
    """Which public reader a corpus case goes to: load_gan, load_directions, load_latent, load_voynov,
    read_vgg16, read_lpips_weights, load_encoder or the workflow runner's LoadImage (load_image)."""
    parts = name.split("_")
    kind = parts[1] if len(parts) > 1 and parts[0] in ("c1", "c2", "c3", "c4", "c5", "c6", "c8") else ""
    return {"dir": "load_directions", "lat": "load_latent", "run": "load_voynov", "vgg": "read_vgg16",
            "lpips": "read_lpips_weights", "enc": "load_encoder", "e4e": "load_directions",
            "img": "load_image"}.get(kind, "load_gan")


def write_case(root: str, name: str, data) -> str:
    """Write one case under ``root`` (a dict is a folder) and return its path."""
    path = os.path.join(root, name)
    if isinstance(data, dict):
        os.makedirs(path, exist_ok=True)
        for n, d in data.items():
            with open(os.path.join(path, n), "wb") as f:
                f.write(d)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


# ----- inputs: node widgets, names and paths (class 6, 7), a held run (class 8) -----------------------
LONG = "x" * 300
BAD_NAMES = {"empty": "", "space": "  ", "dot": ".", "dotdot": "..", "dots": "...", "dot_slash": "./",
             "sub_dot": "a/.", "dot_sub": "./x", "long": LONG, "long_part": "sub/" + "y" * 250, "control": "a\x01b",
             "parent": "../x", "absolute": "/abs/x", "inner_parent": "a/../b", "nul": "a\x00b"}


def hostile_inputs() -> list[tuple[str, Any]]:
    """``(name, call)``: each ``call(ctx)`` must raise our error (GANLabError) before any work.

    ``ctx`` has ``model`` (a tiny DCGAN), ``latent``, ``dirs``, ``models`` (the models root the nodes use),
    ``tmp`` (a scratch folder) and ``nodes`` (the node modules by short name)."""
    out: list = []

    def add(name, fn):
        out.append((name, fn))

    for tag, bad in BAD_NAMES.items():
        add(f"c7_save_directions_{tag}", lambda c, bad=bad: c.nodes["direction"].SaveDirections().save(c.dirs, bad, False))
    for tag in ("dot", "dotdot", "long", "empty", "control"):
        add(f"c7_save_latent_{tag}", lambda c, bad=BAD_NAMES[tag]: c.nodes["latent"].SaveLatent().save(c.latent, bad, False))
    for tag in ("dot", "dotdot", "long", "sub_dot"):
        add(f"c7_ganspace_export_{tag}", lambda c, bad=BAD_NAMES[tag]: c.nodes["ganspace"].GANSpaceDirections().find(
            c.model, 64, 2, 0, "auto", False, "0", bad))
    for tag in ("dot", "dotdot", "empty", "long", "parent"):
        add(f"c7_voynov_run_{tag}", lambda c, bad=BAD_NAMES[tag]: c.nodes["voynov"].VoynovTrain().train(
            c.model, 2, 250, 4, 1e-3, "ortho", "all", 0, bad, 250, "auto", 0))

    def save_into_folder(c, overwrite):
        os.makedirs(os.path.join(c.models, "gan_directions", "taken.safetensors"), exist_ok=True)
        c.nodes["direction"].SaveDirections().save(c.dirs, "taken", overwrite)

    add("c7_save_directions_onto_folder", lambda c: save_into_folder(c, False))
    add("c7_save_directions_onto_folder_overwrite", lambda c: save_into_folder(c, True))

    def lib(c, what):
        from gan_latent_lab.directions import io as dio
        from gan_latent_lab.directions.ganspace_io import save_ganspace_npz
        from gan_latent_lab.directions.voynov import train_voynov

        folder = os.path.join(c.tmp, "a_folder")
        os.makedirs(folder, exist_ok=True)
        if what == "directions_to_folder":
            dio.save_directions(c.dirs, folder, overwrite=True)
        elif what == "latent_long_name":
            dio.save_latent(c.latent, os.path.join(c.tmp, LONG + ".safetensors"))
        elif what == "npz_to_folder":
            save_ganspace_npz(c.dirs, folder)
        elif what == "voynov_long_name":
            train_voynov(c.model, 2, steps=250, batch_size=4, checkpoint=os.path.join(c.tmp, LONG + ".voynov"))
        elif what == "voynov_folder":
            train_voynov(c.model, 2, steps=250, batch_size=4, checkpoint=folder)
        elif what == "voynov_dot":
            train_voynov(c.model, 2, steps=250, batch_size=4, checkpoint=os.path.join(c.tmp, "."))
        elif what == "directions_parent_is_file":
            with open(os.path.join(c.tmp, "plain_file"), "w") as f:
                f.write("x")
            dio.save_directions(c.dirs, os.path.join(c.tmp, "plain_file", "d.safetensors"))

    for what in ("directions_to_folder", "latent_long_name", "npz_to_folder", "voynov_long_name", "voynov_folder",
                 "voynov_dot", "directions_parent_is_file"):
        add(f"c7_library_{what}", lambda c, what=what: lib(c, what))

    def workflow_prefix(c, prefix):
        from gan_latent_lab.workflow import save_images

        save_images(torch.zeros(1, 8, 8, 3), os.path.join(c.tmp, "out"), prefix)

    for tag, prefix in {"dot": ".", "dotdot": "..", "dot_slash": "./", "sub_dot": "sub/.", "long": LONG}.items():
        add(f"c7_workflow_prefix_{tag}", lambda c, prefix=prefix: workflow_prefix(c, prefix))

    def sample(c, **kw):
        args = dict(seed=0, batch_size=2, truncation_psi=1.0, truncation_cutoff=0, class_label="0")
        args.update(kw)
        return c.nodes["model"].GANLatentFromSeed().sample(c.model, **args)

    for tag, kw in {"seed_text": {"seed": "abc"}, "seed_nan": {"seed": float("nan")}, "seed_inf": {"seed": float("inf")},
                    "seed_negative": {"seed": -1}, "seed_2e40": {"seed": 2**40}, "seed_fraction": {"seed": 1.5},
                    "batch_text": {"batch_size": "x"}, "batch_zero": {"batch_size": 0}, "batch_1e9": {"batch_size": 10**9},
                    "batch_nan": {"batch_size": float("nan")}, "psi_nan": {"truncation_psi": float("nan")},
                    "psi_text": {"truncation_psi": "x"}, "cutoff_nan": {"truncation_cutoff": float("nan")},
                    "cutoff_text": {"truncation_cutoff": "x"}, "seed_none": {"seed": None}}.items():
        add(f"c6_node_latent_from_seed_{tag}", lambda c, kw=kw: sample(c, **kw))
    for tag, (slots, k) in {"top_k_nan": ("all", float("nan")), "top_k_text": ("all", "x"), "slots_text": ("abc", 3),
                            "slots_range": ("0-999", 3), "top_k_inf": ("all", float("inf"))}.items():
        add(f"c6_node_sefa_{tag}", lambda c, slots=slots, k=k: c.nodes["direction"].SeFaDirections().find(c.model, slots, k))
    for tag, (idx, strength) in {"index_text": ("x", 1.0), "index_1e9": (10**9, 1.0), "strength_nan": (0, float("nan")),
                                 "strength_text": (0, "x"), "index_nan": (float("nan"), 1.0)}.items():
        add(f"c6_node_apply_{tag}", lambda c, idx=idx, s=strength: c.nodes["edit"].ApplyDirection().apply(
            c.model, c.latent, c.dirs, idx, s, 0, -1, False))
    for tag, steps in {"text": "x", "nan": float("nan"), "1e9": 10**9}.items():
        add(f"c6_node_interpolate_steps_{tag}", lambda c, steps=steps: c.nodes["latent"].LatentInterpolate().run(
            c.latent, c.latent, steps, "linear"))
    for tag, (samples, comps) in {"samples_inf": (float("inf"), 2), "samples_text": ("x", 2),
                                  "components_nan": (64, float("nan")), "samples_1e12": (10**12, 2)}.items():
        add(f"c6_node_ganspace_{tag}", lambda c, s=samples, k=comps: c.nodes["ganspace"].GANSpaceDirections().find(
            c.model, s, k, 0, "auto", False))
    for tag, (k, steps, batch) in {"steps_text": (2, "x", 4), "k_nan": (float("nan"), 10, 4),
                                   "batch_inf": (2, 10, float("inf")), "steps_negative": (2, -5, 4)}.items():
        add(f"c6_node_voynov_{tag}", lambda c, k=k, steps=steps, batch=batch: c.nodes["voynov"].VoynovTrain().train(
            c.model, k, steps, batch, 1e-3, "ortho", "all", 0, "run", 250, "auto", 0))
    for tag, name in {"parent": "../../etc/passwd", "long": "x" * 5000, "empty": ""}.items():
        add(f"c6_node_load_model_{tag}", lambda c, name=name: c.nodes["model"].LoadGANModel().load(name))
    add("c6_node_load_directions_parent", lambda c: c.nodes["direction"].LoadDirections().load("../secret.safetensors"))
    add("c6_node_load_latent_long", lambda c: c.nodes["latent"].LoadLatent().load(c.model, "x" * 5000))
    add("c6_node_decode_noise_mode", lambda c: c.nodes["model"].GANDecode().decode(c.model, c.latent, "evil"))

    def library_read(c, what):
        from gan_latent_lab.directions.io import load_directions, load_latent
        from gan_latent_lab.directions.voynov import load_voynov
        from gan_latent_lab.loaders import load_gan

        reader = {"gan": load_gan, "directions": load_directions, "latent": load_latent, "voynov": load_voynov}[what[0]]
        target = {"long": os.path.join(c.tmp, "x" * 5000), "folder": c.tmp, "missing": os.path.join(c.tmp, "nope"),
                  "nul": "a\x00b"}[what[1]]
        reader(target)

    for what in [(r, t) for r in ("gan", "directions", "latent", "voynov") for t in ("long", "folder", "missing", "nul")]:
        add(f"c6_library_read_{what[0]}_{what[1]}", lambda c, what=what: library_read(c, what))

    def second_trainer(c):
        from gan_latent_lab.directions.voynov import train_voynov
        from gan_latent_lab.directions.voynov_ckpt import run_lock

        path = os.path.join(c.tmp, "held.voynov")
        with run_lock(path):
            train_voynov(c.model, 2, steps=250, batch_size=4, checkpoint=path)

    add("c8_second_trainer_on_held_run", second_trainer)
    out += papers_inputs() + encoder_inputs() + invert_inputs()
    return out


def input_files(models: str) -> None:
    """Files that the inputs below name, written into the models root before any input runs."""
    folder = os.path.join(models, "gan_directions")
    os.makedirs(folder, exist_ok=True)
    files = {"stride0.pt": torch_zip({"linear.weight": _tensor(_Storage("0", 1), 0, (1 << 15, 1 << 15), (0, 0))},
                                     {"0": _floats(1)}),
             "nan.pt": _torch_bytes({"linear.weight": torch.full((8, 4), float("nan"))}),
             "wide.pt": _torch_bytes({"linear.weight": torch.ones(9, 4)}),
             "text.pt": _torch_bytes({"log_mat_half": "evil"}),
             "bomb.pt": torch_zip({"linear.weight": _tensor(_Storage("0", BOMB_BYTES // 4), 0, (BOMB_BYTES // 4,), (1,))},
                                  {"0": bytes(BOMB_BYTES)}, compress=zipfile.ZIP_DEFLATED),
             "ok.pt": _torch_bytes({"linear.weight": torch.eye(8, 4)})}
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(models, "gan_aux", "a_folder.pt"), exist_ok=True)
    os.makedirs(os.path.join(models, "gan", "a_folder.safetensors"), exist_ok=True)
    with open(os.path.join(models, "gan", "taken.safetensors"), "wb") as f:
        f.write(b"an existing model")
    encoders = os.path.join(models, "gan_encoders")
    os.makedirs(os.path.join(encoders, "a_folder.pt"), exist_ok=True)
    with open(os.path.join(encoders, "standin.pt"), "wb") as f:
        f.write(encoder_with_decoder())
    with open(os.path.join(encoders, "hostile.pt"), "wb") as f:
        f.write(encoder_file(MINIMAL_ENCODER, _Reduce(os.system, _shell(os.path.join(models, SENTINEL_NAME)))))
    images = os.path.join(models, "input")
    os.makedirs(os.path.join(images, "a_folder.png"), exist_ok=True)
    with open(os.path.join(images, "ok.png"), "wb") as f:
        f.write(small_png())
    os.symlink(os.path.join(models, "gan", "taken.safetensors"), os.path.join(images, "escape.png"))


def papers_inputs() -> list[tuple[str, Any]]:
    """Widgets and names of the issue-15 nodes: Save GAN Model, Save GAN Latent (.npz), Pivotal Tuning, Align
    Face, Load Perceptual Distance, and the official deformator importer of issue 19."""
    out: list = []

    def add(name, fn):
        out.append((name, fn))

    def save_model(c, name, overwrite=False):
        from gan_latent_lab.nodes import model_nodes

        return model_nodes.SaveGANModel().save(c.model, name, overwrite)

    for tag, bad in {**BAD_NAMES, "hidden": ".tuned", "only_ext": ".safetensors", "sub_only_ext": "sub/.safetensors",
                     "trailing_slash": "tuned/", "windows_parent": "..\\x", "drive": "C:evil"}.items():
        add(f"c7_save_model_{tag}", lambda c, bad=bad: save_model(c, bad))

    add("c7_save_model_onto_folder", lambda c: save_model(c, "a_folder", overwrite=True))
    add("c7_save_model_exists", lambda c: save_model(c, "taken"))
    add("c6_save_model_not_a_model", lambda c: __import__("gan_latent_lab.nodes.model_nodes", fromlist=["x"])
        .SaveGANModel().save(None, "fine", False))

    def save_latent(c, name, latent=None):
        from gan_latent_lab.nodes import latent_nodes

        return latent_nodes.SaveLatent().save(c.latent if latent is None else latent, name, False)

    for tag, bad in {"only_npz": ".npz", "sub_only_npz": "a/.npz", "npz_slash": "x.npz/", "npz_parent": "x/../y.npz",
                     "npz_long": LONG + ".npz", "npz_dots": "...npz", "npz_absolute": "/tmp/x.npz"}.items():
        add(f"c7_save_latent_{tag}", lambda c, bad=bad: save_latent(c, bad))

    def nan_latent(c, field):
        import dataclasses

        value = {"codes": torch.full_like(c.latent.codes, float("nan"))} if field == "codes" else \
            {"truncation_psi": float("inf")} if field == "psi" else {"z": torch.full((len(c.latent), 8), float("nan"))}
        return save_latent(c, f"nan_{field}.npz", dataclasses.replace(c.latent, **value))

    for field in ("codes", "psi", "z"):
        add(f"c6_save_latent_nan_{field}", lambda c, field=field: nan_latent(c, field))

    def pivotal(c, **change):
        from gan_latent_lab.nodes import pivotal_nodes

        args = dict(model=c.model, latent=c.latent, image=torch.rand(len(c.latent), 16, 16, 3), steps=3,
                    learning_rate=3e-4, locality=False, seed=0, perceptual=None, preview_every=0)
        args.update(change)
        return pivotal_nodes.PivotalTuning().tune(**args)

    for tag, change in {"lr_nan": {"learning_rate": float("nan")}, "lr_text": {"learning_rate": "fast"},
                        "lr_10": {"learning_rate": 10.0}, "steps_text": {"steps": "many"}, "steps_1e9": {"steps": 10**9},
                        "steps_negative": {"steps": -5}, "steps_nan": {"steps": float("nan")},
                        "seed_nan": {"seed": float("nan")}, "seed_negative": {"seed": -1},
                        "image_nan": {"image": torch.full((2, 16, 16, 3), float("nan"))},
                        "image_5_channels": {"image": torch.rand(2, 16, 16, 5)}, "image_4px": {"image": torch.rand(2, 4, 4, 3)},
                        "image_count": {"image": torch.rand(3, 16, 16, 3)}, "image_none": {"image": None},
                        "image_2d": {"image": torch.rand(16, 16)}, "image_out_of_range": {"image": torch.full((2, 16, 16, 3), 9.0)},
                        "image_uint8_255": {"image": torch.full((2, 16, 16, 3), 255, dtype=torch.uint8)},
                        "preview_nan": {"preview_every": float("nan")}, "perceptual_text": {"perceptual": "lpips"},
                        "latent_none": {"latent": None}, "model_none": {"model": None}}.items():
        add(f"c6_node_pivotal_{tag}", lambda c, change=change: pivotal(c, **change))

    def align(c, image=None, size=64):
        from gan_latent_lab.nodes import align_nodes

        return align_nodes.AlignFace().align(torch.rand(1, 32, 32, 3) if image is None else image, size)

    for tag, kw in {"size_zero": {"size": 0}, "size_nan": {"size": float("nan")}, "size_text": {"size": "big"},
                    "size_1e9": {"size": 10**9}, "size_fraction": {"size": 64.5},
                    "image_nan": {"image": torch.full((1, 32, 32, 3), float("nan"))},
                    "image_channels_2": {"image": torch.rand(1, 32, 32, 2)}, "image_empty_batch": {"image": torch.rand(0, 32, 32, 3)},
                    "image_3d": {"image": torch.rand(32, 32, 3)}, "image_text": {"image": "photo.png"},
                    "image_batch_1000": {"image": torch.rand(1000, 1, 1, 3)}}.items():
        add(f"c6_node_align_{tag}", lambda c, kw=kw: align(c, **kw))

    def perceptual(c, vgg, lpips=None):
        from gan_latent_lab.nodes import perceptual_nodes

        node = perceptual_nodes.LoadPerceptualDistance()
        return node.load(vgg) if lpips is None else node.load(vgg, lpips)

    for tag, (vgg, lpips) in {"vgg_parent": ("../../secret.pt", None), "vgg_absolute": ("/etc/passwd", None),
                              "vgg_long": ("x" * 5000, None), "vgg_missing": ("nope.pt", None), "vgg_nul": ("a\x00b", None),
                              "vgg_folder": ("a_folder.pt", None), "vgg_empty": ("", None),
                              "vgg_windows_parent": ("..\\..\\secret.pt", None),
                              "lpips_missing_with_vgg_folder": ("a_folder.pt", "nope.pth")}.items():
        add(f"c7_node_perceptual_{tag}", lambda c, vgg=vgg, lpips=lpips: perceptual(c, vgg, lpips))

    def official(c, name, slots="all"):
        return c.nodes["voynov"].VoynovImportOfficial().load(c.model, name, slots)

    for tag, name in {"stride0_4gib": "stride0.pt", "nan": "nan.pt", "wider_than_model": "wide.pt", "text": "text.pt",
                      "deflate_bomb": "bomb.pt", "parent": "../gan/x.pt", "missing": "nope.pt"}.items():
        add(f"c6_node_official_deformator_{tag}", lambda c, name=name: official(c, name))
    add("c6_node_official_deformator_slots_text", lambda c: official(c, "ok.pt", "abc"))
    return out


# ----- inputs of the issue-16 nodes: Load Image Encoder, Encode Image, the runner's LoadImage ---------------
_LOADED_ENCODERS: dict = {}


def _standin_encoder(c):
    """The encoder-with-decoder that :func:`input_files` wrote (loaded once per models folder)."""
    from gan_latent_lab.loaders import load_encoder

    path = os.path.join(c.models, "gan_encoders", "standin.pt")
    if path not in _LOADED_ENCODERS:
        _LOADED_ENCODERS[path] = load_encoder(path)
    return _LOADED_ENCODERS[path]


def encoder_inputs() -> list[tuple[str, Any]]:
    """Widgets and inputs of Load Image Encoder, Encode Image and the workflow runner's LoadImage, and the
    library readers given what is not a file: each refused before anything is read or computed."""
    out: list = []

    def add(name, fn, expect=None):
        out.append((name, fn))
        if expect:
            EXPECT[name] = expect

    def load(c, name):
        from gan_latent_lab.nodes.encoder_nodes import LoadImageEncoder

        return LoadImageEncoder().load(name)

    for tag, (name, expect) in {
            "parent": ("../gan/taken.safetensors", "'..'"), "absolute": ("/etc/passwd", "relative"),
            "windows_parent": ("..\\gan\\taken.safetensors", "'..'"), "long": ("x" * 5000, "5000 bytes"),
            "nul": ("a\x00b.pt", "NUL"), "empty": ("", "empty"), "dot": (".", "folder"), "int": (5, "not int"),
            "none": (None, "not NoneType"), "folder": ("a_folder.pt", "is a folder"), "missing": ("nope.pt", "no encoder"),
            "control": ("a\x01b.pt", "control"), "hostile_file": ("hostile.pt", "nothing was run")}.items():
        add(f"c7_node_load_encoder_{tag}", lambda c, name=name: load(c, name), expect)

    def encode(c, **change):
        from gan_latent_lab.nodes import bridge
        from gan_latent_lab.nodes.encoder_nodes import EncodeImage

        enc = _standin_encoder(c)
        args = dict(encoder=enc, model=enc.decoder, image=torch.rand(1, 16, 16, 3), retarget=False)
        for k, v in change.items():
            args[k] = {"the_decoder": enc.decoder, "the_encoder": enc, "dcgan": c.model,
                       "blocked": bridge.blocked_output("no decoder in this file")}.get(v, v) if isinstance(v, str) else v
        return EncodeImage().encode(**args)

    for tag, (change, expect) in {
            "image_nan": ({"image": torch.full((1, 16, 16, 3), float("nan"))}, "NaN"),
            "image_inf": ({"image": torch.full((2, 16, 16, 3), float("inf"))}, "NaN"),
            "image_5_channels": ({"image": torch.rand(1, 16, 16, 5)}, "1..4 channels"),
            "image_2d": ({"image": torch.rand(16, 16)}, "1..4 channels"),
            "image_5d": ({"image": torch.rand(1, 1, 16, 16, 3)}, "1..4 channels"),
            "image_empty_batch": ({"image": torch.rand(0, 16, 16, 3)}, "0 images"),
            "image_batch_513": ({"image": torch.rand(513, 1, 1, 3)}, "513 images"),
            "image_side_20000": ({"image": torch.rand(1, 20000, 1, 3)}, "20000x1"),
            "image_side_zero": ({"image": torch.rand(1, 0, 16, 3)}, "0x16"),
            "image_uint8": ({"image": torch.full((1, 16, 16, 3), 255, dtype=torch.uint8)}, "torch.uint8"),
            "image_out_of_range": ({"image": torch.full((1, 16, 16, 3), 9.0)}, "9 "),
            "image_negative": ({"image": -torch.ones(1, 16, 16, 3)}, "from -1"),
            "image_float64_huge": ({"image": torch.full((1, 16, 16, 3), 1e300, dtype=torch.float64)}, "[0, 1]"),
            "image_text": ({"image": "photo.png"}, "not str"), "image_none": ({"image": None}, "not NoneType"),
            "encoder_none": ({"encoder": None}, "image encoder"), "encoder_text": ({"encoder": "e4e.pt"}, "image encoder"),
            "encoder_is_model": ({"encoder": "the_decoder"}, "image encoder"),
            "encoder_blocked": ({"encoder": "blocked"}, "no decoder in this file"),
            "model_none": ({"model": None}, "GAN model"), "model_text": ({"model": "ffhq"}, "GAN model"),
            "model_is_encoder": ({"model": "the_encoder"}, "GAN model"),
            "model_blocked": ({"model": "blocked"}, "no decoder in this file"),
            "model_other_generator": ({"model": "dcgan"}, "codes"),
            "model_other_retargeted": ({"model": "dcgan", "retarget": True}, "codes")}.items():
        add(f"c6_node_encode_{tag}", lambda c, change=change: encode(c, **change), expect)

    def library(c, what):
        from gan_latent_lab.loaders import load_encoder

        if what[0] == "encode":
            from gan_latent_lab.directions.encode import encode_images

            enc = _standin_encoder(c)
            images = {"float64_past_float32": torch.full((1, 3, 8, 8), 1e300, dtype=torch.float64),
                      "side_20000": torch.zeros(1, 3, 20000, 1), "int": torch.zeros(1, 3, 8, 8, dtype=torch.int32)}[what[1]]
            return encode_images(enc, enc.decoder, images, chunk=1)
        target = {"long": os.path.join(c.tmp, "x" * 5000), "folder": c.tmp, "missing": os.path.join(c.tmp, "nope.pt"),
                  "nul": "a\x00b", "device": os.path.join(c.models, "gan_encoders", "standin.pt")}[what[1]]
        return load_encoder(target, device="no-such-device" if what[1] == "device" else None)

    for what, expect in [(("read", "long"), "no such file"), (("read", "folder"), "none of"), (("read", "missing"), "no such file"),
                         (("read", "nul"), "no such file"), (("read", "device"), "no-such-device"),
                         (("encode", "float64_past_float32"), "float32"), (("encode", "side_20000"), "sides 1..16384"),
                         (("encode", "int"), "finite RGB")]:
        add(f"c6_library_{what[0]}_encoder_{what[1]}", lambda c, what=what: library(c, what), expect)

    def load_image(c, name):
        from gan_latent_lab.workflow import core_node_defs

        node = core_node_defs(os.path.join(c.tmp, "out"), [], os.path.join(c.models, "input"))["LoadImage"]
        return node.call(image=name)

    for tag, (name, expect) in {
            "parent": ("../gan/taken.safetensors", "'..'"), "absolute": ("/etc/passwd", "relative"),
            "windows_parent": ("..\\gan\\taken.safetensors", "'..'"), "inner_parent": ("a/../../gan/x.png", "'..'"),
            "long": ("x" * 5000 + ".png", "bytes long"), "nul": ("a\x00b.png", "NUL"), "empty": ("", "empty"),
            "dot": (".", "folder"), "int": (5, "not int"), "none": (None, "not NoneType"), "list": (["ok.png"], "not list"),
            "folder": ("a_folder.png", "no image"), "missing": ("nope.png", "no image"),
            "symlink_outside": ("escape.png", "outside"), "control": ("a\x01b.png", "control")}.items():
        add(f"c7_workflow_load_image_{tag}", lambda c, name=name: load_image(c, name), expect)
    return out


# ----- inputs of Invert Image (issue 15's projection) ---------------------------------------------------------
def invert_inputs() -> list[tuple[str, Any]]:
    """Widgets and inputs of Invert Image: each refused before the model is moved or a step is taken."""
    import dataclasses

    out: list = []

    def add(name, fn, expect=None):
        out.append((name, fn))
        if expect:
            EXPECT[name] = expect

    def invert(c, **change):
        from gan_latent_lab.nodes.invert_nodes import InvertImage

        args = dict(model=c.model, image=torch.rand(1, 16, 16, 3), space="auto", steps=2, seed=0)
        for k, v in change.items():
            if v == "other_model_latent":
                v = dataclasses.replace(c.latent, fingerprint="0" * len(c.latent.fingerprint))
            elif v == "three_latents":
                v = dataclasses.replace(c.latent, codes=c.latent.codes[:1].repeat(3, 1, 1), z=None, seeds=None)
            args[k] = v
        return InvertImage().invert(**args)

    for tag, (change, expect) in {
            "image_nan": ({"image": torch.full((1, 16, 16, 3), float("nan"))}, "NaN"),
            "image_inf": ({"image": torch.full((2, 16, 16, 3), float("-inf"))}, "NaN"),
            "image_1px": ({"image": torch.rand(1, 1, 1, 3)}, "1x1 px"),
            "image_batch_17": ({"image": torch.rand(17, 16, 16, 3)}, "17 images"),
            "image_empty_batch": ({"image": torch.rand(0, 16, 16, 3)}, "0 images"),
            "image_side_20000": ({"image": torch.rand(1, 20000, 8, 3)}, "20000x8"),
            "image_5_channels": ({"image": torch.rand(1, 16, 16, 5)}, "1..4 channels"),
            "image_2d": ({"image": torch.rand(16, 16)}, "1..4 channels"),
            "image_uint8": ({"image": torch.full((1, 16, 16, 3), 255, dtype=torch.uint8)}, "torch.uint8"),
            "image_out_of_range": ({"image": torch.full((1, 16, 16, 3), 255.0)}, "255"),
            "image_text": ({"image": "photo.png"}, "not str"), "image_none": ({"image": None}, "not NoneType"),
            "model_none": ({"model": None}, "GAN_MODEL"), "model_text": ({"model": "ffhq"}, "GAN_MODEL"),
            "space_w_on_dcgan": ({"space": "w+"}, "does not fit"), "space_text": ({"space": "x; rm -rf /"}, "does not fit"),
            "steps_nan": ({"steps": float("nan")}, "whole number"), "steps_text": ({"steps": "many"}, "whole number"),
            "steps_negative": ({"steps": -3}, "1..20000"), "steps_1e9": ({"steps": 10**9}, "1..20000"),
            "steps_fraction": ({"steps": 2.5}, "whole number"),
            "seed_negative": ({"seed": -1}, "seed"), "seed_nan": ({"seed": float("nan")}, "seed"),
            "seed_2_64": ({"seed": 2**64}, "seed"),
            "init_other_model": ({"init": "other_model_latent"}, "made by model 0000"),
            "init_count": ({"init": "three_latents"}, "3 latents for 1 images"),
            "init_text": ({"init": "latent.npz"}, "GAN latent"),
            "perceptual_text": ({"perceptual": "lpips"}, "image distance")}.items():
        add(f"c6_node_invert_{tag}", lambda c, change=change: invert(c, **change), expect)
    return out
