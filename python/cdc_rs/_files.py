"""Small file helpers shared by the durable parts (Delta bookkeeping, checkpoints)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write(path: Path, data: bytes, error: type[Exception] | None = None) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the whole new one, never a
    part: a temporary file, fsync, then an atomic rename. An ``OSError`` is re-raised as
    ``error`` (naming the path) when one is given.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only file system: nothing was written to remove
            pass
        if error is None:
            raise
        raise error(f"cannot write {path}: {exc.strerror or exc}") from exc
