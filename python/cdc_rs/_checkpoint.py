"""The checkpoint folder of ``cdc_rs.stream``: which input each batch reads, which committed.

The folder is a local path or an object store prefix (``s3://bucket/chk/customers``); every
file goes through a :class:`~cdc_rs._store.Store`, whose writes are whole or nothing, so a
crash leaves each offsets or commit file either absent or complete.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ._store import LocalStore, Store, brief_error, open_store
from .exceptions import CheckpointError, DeltaTargetError

T = TypeVar("T")

_SUBFOLDERS = ("offsets", "commits", "quarantine")
_METADATA = "metadata.json"


class Checkpoint:
    """A stream's checkpoint folder (Spark's layout): ``offsets/<id>.json`` written before a
    batch runs, ``commits/<id>.json`` after its target committed it, ``quarantine/``.

    Args:
        location: a local folder or an object store URL (``s3://…``, ``gs://…``, ``az://…``).
        source: the source's description; a checkpoint serves one source only.
        storage_options: the object store's options (as :class:`cdc_rs.DeltaTarget` takes them).
    """

    def __init__(self, location: str | os.PathLike[str], source: dict[str, Any],
                 storage_options: dict[str, str] | None = None) -> None:
        self.store = _open(location, storage_options)
        # What messages name: the folder as given (a local path), or the store's URL.
        self.path: Path | str = Path(os.fspath(location).removeprefix("file://")) \
            if isinstance(self.store, LocalStore) else self.store.uri
        if isinstance(self.store, LocalStore):
            try:
                for sub in _SUBFOLDERS:
                    (self.store.root / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CheckpointError(f"cannot create checkpoint {self.path}: {exc}") from exc
        self._claim(source)
        self.offsets = self._load("offsets")
        self.commits = self._load("commits")

    def _claim(self, source: dict[str, Any]) -> None:
        """Records the source in ``metadata.json`` (a create-if-absent put, so two first runs
        agree on one file), or checks it is the recorded one."""
        if self._read_bytes(_METADATA) is None:
            meta = json.dumps({"id": uuid.uuid4().hex, "source": source}).encode()
            if self._store_call(_METADATA, lambda: self.store.create(_METADATA, meta)):
                return
            # else another run created it meanwhile: it must be for the same source
        saved = self._read_entry(_METADATA)
        if saved.get("source") != source:
            raise CheckpointError(f"checkpoint {self.path} belongs to source {saved.get('source')}, "
                                  f"not {source}; use another checkpoint folder")

    def _load(self, kind: str) -> dict[int, dict[str, Any]]:
        try:
            entries = self.store.files(kind)
        except OSError as exc:
            raise CheckpointError(f"cannot list {self._name(kind)}: {brief_error(exc)}") from exc
        out = {}
        for entry in entries:
            stem, dot, ext = entry.name.rpartition(".")
            if dot and ext == "json" and stem.isdigit():
                out[int(stem)] = self._read_entry(f"{kind}/{entry.name}")
        return out

    def write(self, kind: str, batch_id: int, entry: dict[str, Any]) -> None:
        rel = f"{kind}/{batch_id:020d}.json"
        data = json.dumps(entry).encode()
        self._store_call(rel, lambda: self.store.write(rel, data))
        getattr(self, kind)[batch_id] = entry

    def progress(self) -> tuple[set[Any], tuple[Any, int] | None]:
        """The units read to their end by committed batches, and the (unit, next row) of one
        the committed batches read only in part."""
        done: set[Any] = set()
        resume: tuple[Any, int] | None = None
        for batch_id in sorted(self.commits):
            off = self.offsets.get(batch_id)
            if off is None:
                continue
            if off.get("last"):
                done.add(off["unit"])
                resume = None
            else:
                resume = (off["unit"], off["stop"])
        return done, resume

    def uncommitted(self) -> list[int]:
        """Batch ids with offsets but no commit after the last commit: a crash's leftovers,
        to run again with the same id and the same input."""
        last_commit = max(self.commits, default=None)
        return sorted(i for i in self.offsets if last_commit is None or i > last_commit)

    def quarantine_lines(self, batch_id: int, bad: list[dict[str, Any]]) -> None:
        rel = f"quarantine/{batch_id:020d}.jsonl"
        data = "".join(json.dumps(b) + "\n" for b in bad).encode()
        self._store_call(rel, lambda: self.store.write(rel, data))

    def quarantine_file(self, unit: Any, exc: Exception) -> None:
        rel = "quarantine/files.jsonl"
        line = (json.dumps({"unit": unit, "error": str(exc)}) + "\n").encode()
        self._store_call(rel, lambda: self.store.append(rel, line))

    def _name(self, rel: str) -> str:
        """A checkpoint file as messages name it."""
        return str(self.path / rel) if isinstance(self.path, Path) else f"{self.path}/{rel}"

    def _store_call(self, rel: str, call: Callable[[], T]) -> T:
        """``call()``, a failed write raised as a ``CheckpointError`` naming the file."""
        try:
            return call()
        except DeltaTargetError as exc:  # the store's own message names the file
            raise CheckpointError(brief_error(exc) + self._hint) from exc
        except OSError as exc:
            raise CheckpointError(f"cannot write {self._name(rel)}: "
                                  f"{exc.strerror or brief_error(exc)}{self._hint}") from exc

    @property
    def _hint(self) -> str:
        """What to check when an object store refuses a write (a local error says it all)."""
        return "" if isinstance(self.store, LocalStore) else \
            "; check the bucket and the storage_options (credentials, endpoint)"

    def _read_bytes(self, rel: str) -> bytes | None:
        """A checkpoint file's bytes (None if it is missing)."""
        try:
            return self.store.read(rel)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CheckpointError(f"{self._name(rel)}: cannot read the checkpoint file "
                                  f"({brief_error(exc)})") from exc

    def _read_entry(self, rel: str) -> dict[str, Any]:
        """A checkpoint file's JSON object."""
        data = self._read_bytes(rel)
        if data is None:  # listed a moment ago: removed by hand meanwhile
            raise CheckpointError(f"{self._name(rel)}: the checkpoint file is gone")
        return parse_checkpoint_file(self._name(rel), data)


def parse_checkpoint_file(name: str, data: bytes) -> dict[str, Any]:
    """The JSON object of a checkpoint file, or a ``CheckpointError`` naming it."""
    try:
        entry = json.loads(data)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CheckpointError(f"{name}: the checkpoint file is corrupt ({exc}); restore it, or "
                              "start again with a new checkpoint folder") from exc
    if not isinstance(entry, dict):
        raise CheckpointError(f"{name}: the checkpoint file is corrupt (not a JSON object)")
    return entry


def _open(location: str | os.PathLike[str], storage_options: dict[str, str] | None) -> Store:
    try:
        return open_store(location, storage_options)
    except DeltaTargetError as exc:
        raise CheckpointError(f"checkpoint {brief_error(exc)}") from exc  # names the URL
