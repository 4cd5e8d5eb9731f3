"""Slot specifications ("all", "0-3,5", "coarse") -> sorted slot indices, checked against a model.

Slots are the injection points of the codes (w+ layers of a style GAN, z-receiving blocks of
BigGAN, the single z of DCGAN / PGGAN).  Ranges are inclusive, as users read them: "1-3" is
slots 1, 2 and 3.  The presets split the slots into thirds: "coarse" (pose, shape), "middle"
(features), "fine" (colour, texture); with fewer than three slots every preset is all slots.
"""

from __future__ import annotations

from typing import Iterable

from ..errors import InputError

PRESETS = ("all", "coarse", "middle", "fine")


def _preset(name: str, num_ws: int) -> list[int]:
    if name == "all" or num_ws < 3:
        return list(range(num_ws))
    a, b = round(num_ws / 3), round(2 * num_ws / 3)
    bounds = {"coarse": (0, a), "middle": (a, b), "fine": (b, num_ws)}[name]
    return list(range(*bounds))


def _check(index: int, part: str, num_ws: int) -> int:
    if not 0 <= index < num_ws:
        raise InputError(f"slot {index} in {part!r} is outside the model's slots 0-{num_ws - 1}")
    return index


def _parse_part(part: str, num_ws: int) -> list[int]:
    """One comma-separated piece: "4" or "0-3"."""
    if part.lower() in PRESETS:
        return _preset(part.lower(), num_ws)
    pieces = part.split("-")
    try:
        numbers = [int(p) for p in pieces]
    except ValueError:
        raise InputError(f"cannot read slot part {part!r}: use numbers and inclusive ranges like '0-1,4', "
                         f"or one of {', '.join(PRESETS)} (valid slots 0-{num_ws - 1})") from None
    if len(numbers) == 1:
        return [_check(numbers[0], part, num_ws)]
    if len(numbers) != 2:
        raise InputError(f"cannot read slot part {part!r}: a range is 'first-last' (valid slots 0-{num_ws - 1})")
    first, last = (_check(n, part, num_ws) for n in numbers)
    if first > last:
        raise InputError(f"slot range {part!r} runs backwards; write it as {last}-{first}")
    return list(range(first, last + 1))


def parse_slots(spec: str | int | Iterable[int] | None, num_ws: int) -> list[int]:
    """Sorted, de-duplicated slot indices for ``spec``, every one inside ``0..num_ws-1``.

    ``spec`` is a string ("all", "0-1,4", "coarse"), an int, a list of ints, or None (all)."""
    if num_ws < 1:
        raise InputError(f"a model with {num_ws} slots has nothing to edit")
    if spec is None:
        return list(range(num_ws))
    if isinstance(spec, bool):
        raise InputError(f"slots must be a spec like '0-1,4', not {spec!r}")
    if isinstance(spec, int):
        return [_check(spec, str(spec), num_ws)]
    if not isinstance(spec, str):
        out = set()
        for s in spec:
            if isinstance(s, bool) or not isinstance(s, int):
                raise InputError(f"slot {s!r} is not an integer (valid slots 0-{num_ws - 1})")
            out.add(_check(int(s), str(s), num_ws))
        if not out:
            raise InputError("no slots given")
        return sorted(out)
    text = spec.replace(" ", "")
    if not text:
        raise InputError(f"no slots given; use 'all' or ranges like '0-1,4' (valid slots 0-{num_ws - 1})")
    out = set()
    for part in text.split(","):
        if not part:
            raise InputError(f"empty part in slot spec {spec!r}")
        out.update(_parse_part(part, num_ws))
    return sorted(out)


def slot_range(slot_start: int, slot_end: int, num_ws: int) -> list[int]:
    """Inclusive ``slot_start..slot_end``; ``slot_end = -1`` means the last slot."""
    try:
        s, e = int(slot_start), int(slot_end)
    except (TypeError, ValueError):
        raise InputError(f"slot bounds must be integers, not {slot_start!r}, {slot_end!r}") from None
    if e == -1:
        e = num_ws - 1
    if not 0 <= s < num_ws or not 0 <= e < num_ws:
        raise InputError(f"slots {s}..{e} are outside the model's slots 0-{num_ws - 1}")
    if s > e:
        raise InputError(f"slot_start {s} is after slot_end {e}")
    return list(range(s, e + 1))


def format_slots(slots: list[int] | None) -> str:
    """Compact text for a slot list: [0, 1, 2, 5] -> "0-2,5"."""
    if not slots:
        return "all"
    runs, start, prev = [], slots[0], slots[0]
    for s in slots[1:] + [None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ",".join(runs)
