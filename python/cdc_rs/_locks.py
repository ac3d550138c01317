"""The lock around a target's state, made safe for threads and for ``os.fork()``.

A plain lock held by a writing thread when the process forks stays held forever in the child
(that thread does not exist there), and the child's copy of the table is half-written. So
``fork()`` waits for every target to be free, as CPython does for its own locks: the child
inherits each table between two batches, with its lock free.
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType

_registry = threading.Lock()
_all: weakref.WeakSet[TargetLock] = weakref.WeakSet()
_held: list[TargetLock] = []


class TargetLock:
    """Serialises the reads and writes of one target (re-entrant for the holding thread)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        with _registry:
            _all.add(self)

    def __enter__(self) -> TargetLock:
        self._lock.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._lock.release()


def _before_fork() -> None:
    _registry.acquire()  # no lock is made while we take them all
    for lock in list(_all):
        lock._lock.acquire()
        _held.append(lock)


def _after_fork() -> None:
    while _held:
        _held.pop()._lock.release()
    _registry.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                        after_in_child=_after_fork)
