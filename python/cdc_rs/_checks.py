"""Checks of the plain arguments users pass (names, text, batch ids), made before anything
reaches Rust, so a bad one is a ``cdc_rs`` error that names it instead of a ``TypeError``,
``OverflowError`` or ``UnicodeEncodeError`` from the binding."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from .exceptions import ConfigError, InputError

# Batch ids are Spark's (a signed 64-bit long); the next id must still fit.
_FIRST_ID, _LAST_ID = -(2**63), 2**63 - 2


def batch_id(value: Any) -> int:
    """``value`` as a batch id: an integer (Python or NumPy), not a float or a bool."""
    if isinstance(value, bool):
        raise InputError(f"batch_id must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise InputError(f"batch_id must be an integer, got {type(value).__name__} "
                         f"{value!r}") from None
    if not _FIRST_ID <= number <= _LAST_ID:
        raise InputError(f"batch_id {number} is outside the 64-bit range Spark uses "
                         f"({_FIRST_ID}..{_LAST_ID})")
    return number


def text(value: Any, what: str, error: type[Exception] = ConfigError) -> str:
    """``value`` as text that can cross into Rust: a ``str`` of valid Unicode (no lone
    surrogates, as some file-system and terminal decoders leave)."""
    if not isinstance(value, str):
        raise error(f"{what} must be a string, got {type(value).__name__} {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what} {value!r} is not valid Unicode text (a lone surrogate at "
                    f"position {exc.start})") from None
    return value


def name(value: Any, what: str) -> str:
    """A column name: text without NUL characters (Arrow's C interface ends names at NUL)."""
    checked = text(value, what)
    if "\0" in checked:
        raise ConfigError(f"{what} {checked!r} contains a NUL character")
    return checked


def names(value: str | Sequence[str], what: str) -> list[str]:
    """One name or a sequence of names."""
    if isinstance(value, str):
        return [name(value, what)]
    return [name(v, what) for v in value]


def memory_limit(value: Any) -> int | None:
    """``memory_limit`` in bytes: an integer, ``None`` (no limit) or ``"auto"`` — half the
    memory this process may use (its cgroup's limit, else the machine's memory)."""
    if value is None:
        return None
    if value == "auto":
        return _usable_memory() // 2
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"memory_limit must be a number of bytes, None or 'auto'; got {value!r}")
    return value


def _usable_memory() -> int:
    import os

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            text = f.read().strip()
        return min(total, int(text)) if text.isdigit() else total
    except OSError:
        return total
