"""The checkpoint folder of ``cdc_rs.stream``: which input each batch reads, which committed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ._files import atomic_write
from .exceptions import CheckpointError


class Checkpoint:
    """A stream's checkpoint folder (Spark's layout): ``offsets/<id>.json`` written before a
    batch runs, ``commits/<id>.json`` after its target committed it, ``quarantine/``."""

    def __init__(self, path: Path, source: dict[str, Any]) -> None:
        self.path = path
        try:
            for sub in ("offsets", "commits", "quarantine"):
                (path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckpointError(f"cannot create checkpoint {path}: {exc}") from exc
        meta = path / "metadata.json"
        if meta.exists():
            saved = read_checkpoint_file(meta)
            if saved.get("source") != source:
                raise CheckpointError(f"checkpoint {path} belongs to source {saved.get('source')}, "
                                      f"not {source}; use another checkpoint folder")
        else:
            atomic_write(meta, json.dumps({"id": uuid.uuid4().hex, "source": source}).encode(), CheckpointError)
        self.offsets = self._load("offsets")
        self.commits = self._load("commits")

    def _load(self, kind: str) -> dict[int, dict[str, Any]]:
        out = {}
        for p in (self.path / kind).glob("*.json"):
            if p.stem.isdigit():
                out[int(p.stem)] = read_checkpoint_file(p)
        return out

    def write(self, kind: str, batch_id: int, entry: dict[str, Any]) -> None:
        atomic_write(self.path / kind / f"{batch_id:020d}.json", json.dumps(entry).encode(), CheckpointError)
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
        data = "".join(json.dumps(b) + "\n" for b in bad).encode()
        atomic_write(self.path / "quarantine" / f"{batch_id:020d}.jsonl", data, CheckpointError)

    def quarantine_file(self, unit: Any, exc: Exception) -> None:
        line = json.dumps({"unit": unit, "error": str(exc)}) + "\n"
        path = self.path / "quarantine" / "files.jsonl"
        try:
            with open(path, "a") as f:
                f.write(line)
        except OSError as err:
            raise CheckpointError(f"cannot write {path}: {err}") from err





def read_checkpoint_file(path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint file ({exc})") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CheckpointError(f"{path}: the checkpoint file is corrupt ({exc}); restore it, or "
                              "start again with a new checkpoint folder") from exc
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: the checkpoint file is corrupt (not a JSON object)")
    return entry
