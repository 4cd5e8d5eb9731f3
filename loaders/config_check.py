"""Configurations checked before anything is built: every field in range, the implied size bounded.

A configuration reaches a family from init kwargs in a pickle, a ``config.json`` or sidecar,
safetensors metadata or a training config object.  Any of them can say ``z_dim 0``, a resolution
of 2^30 or ``inf``, 10^9 mapping layers or 20,000 filter taps.  A family states what each field
may be in a small spec and calls :func:`check_config` before it computes anything from the values;
then :func:`build_bounded` builds the module while counting the bytes each tensor factory call
asks for, and stops the build before the first allocation that would take the total far past
what the file holds.  Every refusal is a :class:`CheckpointError` naming the file
(when known) and the field.

Adopting it in a new family::

    SPEC = {"z_dim": Int(1, 4096), "resolution": PowerOfTwo(4, 4096), "eps": Float(0, 1, lo_open=True)}
    config = check_config(config, SPEC, source=ckpt.path, where="the config.json")
    gen = build_bounded(lambda: MyGenerator(config), state, source=ckpt.path)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

from .. import limits
from ..errors import CheckpointError

MAX_DIM = 1 << 16
"""Largest width (channels, latent size) any field may state."""
BUILD_FACTOR = 2
"""A configuration may imply at most this many times the tensor bytes the file holds ..."""
BUILD_SLACK = 256 * limits.MiB
"""... plus this (buffers computed from the config, such as filters, that files do not store) ..."""
BUILD_CAP = 64 * limits.GiB
"""... and never more than this."""


class Field:
    """What one configuration field may be; ``check`` returns the normalised value or raises ValueError."""

    optional = False

    def check(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"is {type(value).__name__} {_show(value)}, not a number")
    if isinstance(value, float) or not isinstance(value, numbers.Integral):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"is {v}, not a finite number")
        return v
    return int(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Int(Field):
    """An integer in ``lo..hi`` (an integral float such as 512.0 is accepted)."""

    lo: int
    hi: int
    optional: bool = False

    def check(self, value: Any) -> int:
        v = _number(value)
        if isinstance(v, float):
            if not v.is_integer():
                raise ValueError(f"is {v}, not a whole number")
            v = int(v)
        if not self.lo <= v <= self.hi:
            raise ValueError(f"is {v}, outside {self.lo}..{self.hi}")
        return v


@dataclass(frozen=True)
class PowerOfTwo(Int):
    """An integer power of two in ``lo..hi``."""

    def check(self, value: Any) -> int:
        v = Int.check(self, value)
        if v & (v - 1):
            raise ValueError(f"is {v}, not a power of two")
        return v


@dataclass(frozen=True)
class Float(Field):
    """A finite number in ``[lo, hi]`` (``lo_open``: ``(lo, hi]``)."""

    lo: float
    hi: float
    optional: bool = False
    lo_open: bool = False

    def check(self, value: Any) -> float:
        v = float(_number(value))
        if v < self.lo or v > self.hi or (self.lo_open and v == self.lo):
            lo = "(" if self.lo_open else "["
            raise ValueError(f"is {v}, outside {lo}{self.lo}, {self.hi}]")
        return v


@dataclass(frozen=True)
class Bool(Field):
    """True or False (0 and 1 from older configs too)."""

    optional: bool = False

    def check(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, numbers.Integral) and int(value) in (0, 1):
            return bool(value)
        raise ValueError(f"is {_show(value)}, not true or false")


@dataclass(frozen=True)
class Choice(Field):
    """One of a fixed set of values."""

    options: tuple
    optional: bool = False

    def check(self, value: Any) -> Any:
        if isinstance(value, (str, bool, int, type(None))) and any(
                value == o and type(value) is type(o) for o in self.options):
            return value
        raise ValueError(f"is {_show(value)}, not one of {', '.join(map(repr, self.options))}")


@dataclass(frozen=True)
class Text(Field):
    """A string of at most ``max_len`` characters (a name, a short setting)."""

    max_len: int
    optional: bool = False

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"is {type(value).__name__} {_show(value)}, not text")
        if len(value) > self.max_len:
            raise ValueError(f"is {len(value)} characters long, more than {self.max_len}")
        return value


@dataclass(frozen=True)
class Numbers(Field):
    """A list of ``item`` values, ``min_len..max_len`` long (filter taps, layer plans)."""

    item: Field
    max_len: int
    min_len: int = 1
    optional: bool = False

    def check(self, value: Any) -> list:
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
            raise ValueError(f"is {type(value).__name__}, not a list")
        if not self.min_len <= len(value) <= self.max_len:
            raise ValueError(f"has {len(value)} entries, not {self.min_len}..{self.max_len}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(self.item.check(v))
            except ValueError as e:
                raise ValueError(f"entry {i} {e}") from None
        return out


@dataclass(frozen=True)
class AnyOf(Field):
    """The first of several forms that accepts the value (a 1-D or a 2-D filter, say)."""

    forms: tuple
    optional: bool = False

    def check(self, value: Any) -> Any:
        reasons = []
        for form in self.forms:
            try:
                return form.check(value)
            except ValueError as e:
                reasons.append(str(e))
        raise ValueError(" / ".join(reasons))


@dataclass(frozen=True)
class Texts(Field):
    """A list of at most ``max_len`` short strings (class names)."""

    max_len: int
    optional: bool = True

    def check(self, value: Any) -> list:
        if not isinstance(value, (list, tuple)) or len(value) > self.max_len:
            raise ValueError(f"is not a list of at most {self.max_len} names")
        if not all(isinstance(v, (str, int, float)) and len(str(v)) <= 1000 for v in value):
            raise ValueError("holds entries that are not short names")
        return [str(v) for v in value]


def check_value(name: str, value: Any, field: Field, source: str | None = None, where: str = "the configuration") -> Any:
    """One field checked; our error names the file, where the value came from and the field."""
    if value is None and field.optional:
        return None
    try:
        return field.check(value)
    except ValueError as e:
        raise CheckpointError(source, f"{where}: field '{name}' {e}") from None


def check_config(config: Mapping, spec: Mapping[str, Field], source: str | None = None,
                 where: str = "the configuration", required: Sequence[str] = ()) -> dict:
    """A copy of ``config`` whose fields named in ``spec`` are checked and normalised (others kept)."""
    if not isinstance(config, Mapping):
        raise CheckpointError(source, f"{where} is a {type(config).__name__}, not a mapping of settings")
    missing = [k for k in required if k not in config]
    if missing:
        raise CheckpointError(source, f"{where} lacks {', '.join(missing)}")
    out = dict(config)
    for name, field in spec.items():
        if name in out:
            out[name] = check_value(name, out[name], field, source, where)
    return out


# ----- implied size ----------------------------------------------------------------------------------
def tensor_bytes(tensors: Any) -> int:
    """Bytes of the tensors in a state dict (or any iterable of tensors)."""
    values = tensors.values() if isinstance(tensors, Mapping) else tensors
    return sum(t.numel() * t.element_size() for t in values if isinstance(t, torch.Tensor))


_SIZED = {torch.empty, torch.zeros, torch.ones, torch.full, torch.randn, torch.rand, torch.randint, torch.empty_strided,
          torch.Tensor.new_empty, torch.Tensor.new_zeros, torch.Tensor.new_ones, torch.Tensor.new_full}
_RANGES = {torch.arange, torch.eye, torch.linspace, torch.logspace}


class OverBudget(Exception):
    """Raised inside a build the moment its allocations would pass the budget."""


def _shape_of(func: Any, args: tuple, kwargs: dict) -> list[int]:
    if func in (torch.Tensor.new_empty, torch.Tensor.new_zeros, torch.Tensor.new_ones, torch.Tensor.new_full):
        args = args[1:]
    if "size" in kwargs:
        args = (kwargs["size"],) + tuple(args)
    if func is torch.randint:  # randint(high, size) or randint(low, high, size)
        args = tuple(a for a in args if isinstance(a, (tuple, list, torch.Size)))
    if func in (torch.full, torch.Tensor.new_full) and args:
        args = args[:1]
    if args and isinstance(args[0], (tuple, list, torch.Size)):
        args = tuple(args[0])
    dims = [int(a) for a in args if isinstance(a, numbers.Integral) and not isinstance(a, bool)]
    return dims


def _range_length(func: Any, args: tuple, kwargs: dict) -> int:
    nums = [float(a) for a in args if isinstance(a, numbers.Real) and not isinstance(a, bool)]
    if func is torch.eye:
        return int(nums[0]) * int(nums[1] if len(nums) > 1 else nums[0]) if nums else 0
    if func in (torch.linspace, torch.logspace):
        return int(nums[2]) if len(nums) > 2 else int(kwargs.get("steps", 0))
    if len(nums) == 1:
        return max(int(nums[0]), 0)
    if len(nums) >= 2:
        step = nums[2] if len(nums) > 2 else float(kwargs.get("step", 1)) or 1
        return max(int((nums[1] - nums[0]) / step), 0)
    return 0


class AllocationBudget(torch.overrides.TorchFunctionMode):
    """Counts the bytes every tensor factory call inside it asks for, and raises :class:`OverBudget`
    before the call that would pass ``limit`` allocates anything."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.total = limit, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _SIZED or func in _RANGES:
            dtype = kwargs.get("dtype") or torch.get_default_dtype()
            itemsize = dtype.itemsize if isinstance(dtype, torch.dtype) else 8
            if func in _RANGES:
                count = _range_length(func, args, kwargs)
            else:
                dims = _shape_of(func, args, kwargs)
                count = math.prod(dims) if all(d >= 0 for d in dims) else 0
            self.total += count * itemsize
            if self.total > self.limit:
                raise OverBudget(self.total)
        return func(*args, **kwargs)


def check_bytes(implied: int, available: int, source: str | None = None, what: str = "the configuration") -> None:
    """Refuse a configuration implying more than ``BUILD_FACTOR`` x the file's tensor bytes (+ slack, capped)."""
    limit = min(BUILD_FACTOR * available + BUILD_SLACK, BUILD_CAP)
    if implied > limit:
        raise CheckpointError(source, f"{what} implies {implied / limits.MiB:,.1f} MiB of weights but the file holds "
                              f"{available / limits.MiB:,.1f} MiB (at most {BUILD_FACTOR}x plus "
                              f"{BUILD_SLACK // limits.MiB} MiB is built)")


def build_limit(available: int) -> int:
    """Bytes a build may allocate for a file holding ``available`` bytes of tensors."""
    return min(BUILD_FACTOR * available + BUILD_SLACK, BUILD_CAP)


def build_bounded(factory: Callable[[], torch.nn.Module], state: Any, source: str | None = None,
                  what: str = "the configuration") -> torch.nn.Module:
    """``factory()`` whose tensor allocations are counted as they are requested: the build stops, before
    allocating, at the first request that takes the total past :func:`build_limit` of the file's tensor
    bytes.  So a configuration can never make the build allocate more than that, whatever it says.

    Fields must already be checked (:func:`check_config`): that bounds loops and numpy work in the
    constructor, which the count does not see."""
    available = tensor_bytes(state)
    budget = AllocationBudget(build_limit(available))
    try:
        with budget:
            module = factory()
    except OverBudget as e:
        check_bytes(int(e.args[0]), available, source, what)
        raise  # pragma: no cover - check_bytes raised
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError, RuntimeError,
            NotImplementedError, AttributeError, MemoryError) as e:
        raise CheckpointError(source, f"{what} does not describe a buildable network "
                              f"({type(e).__name__}: {str(e)[:200]})") from None
    implied = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    check_bytes(implied, available, source, what)
    return module
