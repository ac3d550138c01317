"""The slow obvious model of SCD type 2 history (issue 19), for the engine to be checked against.

A key's history is the result of applying all of its events seen so far in sequence order,
whatever order they arrived in and however they were split into batches:

- an upsert opens a version starting at its sequence when the key has no open version (its
  first upsert, or the first after a delete), or when it changes a tracked column — ending
  the open version there; otherwise it updates the open version in place (the start stays,
  the content becomes the newer event's);
- a delete ends the open version at its sequence; the key then has no version until the next
  upsert;
- an event whose (key, sequence) was already seen is stale (the earliest arrival wins).

Nulls compare equal to nulls. Versions are ``(start, end, row)`` with ``end`` None while open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    key: Any
    sequence: Any
    row: dict[str, Any] | None  # None: a delete


@dataclass
class Version:
    start: Any
    end: Any
    row: dict[str, Any]


@dataclass
class Scd2Model:
    """Events in, history out; ``tracked`` None: every column of the rows is tracked."""

    tracked: Sequence[str] | None = None
    events: dict[Any, dict[Any, Event]] = field(default_factory=dict)  # key -> sequence -> event

    def apply(self, batch: Iterable[Event]) -> int:
        """Adds a batch's events (in arrival order); returns how many were stale."""
        stale = 0
        for event in batch:
            seen = self.events.setdefault(event.key, {})
            if event.sequence in seen:
                stale += 1
            else:
                seen[event.sequence] = event
        return stale

    def history(self, key: Any) -> list[Version]:
        versions: list[Version] = []
        open_version: Version | None = None
        for sequence in sorted(self.events.get(key, {})):
            event = self.events[key][sequence]
            if event.row is None:
                if open_version is not None:
                    open_version.end = sequence
                    open_version = None
            elif open_version is None or self._tracked(event.row) != self._tracked(open_version.row):
                if open_version is not None:
                    open_version.end = sequence
                open_version = Version(sequence, None, dict(event.row))
                versions.append(open_version)
            else:
                open_version.row = dict(event.row)
        return versions

    def table(self) -> list[tuple[Any, Any, Any, dict[str, Any]]]:
        """Every key's versions as ``(key, start, end, row)``, by key then start."""
        return [(key, v.start, v.end, v.row) for key in sorted(self.events, key=repr)
                for v in self.history(key)]

    def _tracked(self, row: dict[str, Any]) -> tuple[Any, ...]:
        names = sorted(row) if self.tracked is None else self.tracked
        return tuple(row.get(name) for name in names)
