"""Small file helpers shared by the durable parts (Delta bookkeeping, checkpoints)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write(path: Path, data: bytes, error: type[Exception] | None = None) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the whole new one, never a
    part: a temporary file, fsync, then an atomic rename (the folder synced too). An ``OSError`` is re-raised as
    ``error`` (naming the path) when one is given.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        make_folders(path.parent)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        sync(path.parent)  # the new entry, not only the data, survives a power loss
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. a read-only file system: nothing was written to remove
            pass
        if error is None:
            raise
        raise error(f"cannot write {path}: {exc.strerror or exc}") from exc


def make_folders(folder: Path) -> None:
    """Creates ``folder`` and its missing parents, each new entry synced into its parent."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        sync(new.parent)


def sync(path: Path) -> None:
    """Syncs a file's data, or a folder's entries, to the disk (a read-only descriptor does)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
