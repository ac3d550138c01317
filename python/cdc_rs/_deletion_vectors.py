"""Deletion vectors of a Delta table: the deleted row positions of a data file, read from
any of the protocol's three storage forms and written as ``deletion_vector_<uuid>.bin``
files (the encoding itself is in Rust: ``src/deletion_vector.rs``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa

from . import _cdc_rs
from ._files import atomic_write
from .exceptions import CdcError, DeltaTargetError

_UUID_CHARS = 20  # a UUID in Z85


def deleted_positions(root: Path, vector: dict[str, Any] | None) -> np.ndarray:
    """The sorted deleted row positions (uint64) a descriptor names; none without one."""
    if not vector:
        return np.zeros(0, dtype=np.uint64)
    kind, text, size = vector["storageType"], vector["pathOrInlineDv"], int(vector["sizeInBytes"])
    try:
        if kind == "i":
            positions = _cdc_rs.read_deletion_vector(_cdc_rs.z85_decode(text), None, size)
        else:
            offset = vector.get("offset")
            data = _vector_file(root, kind, text).read_bytes()
            positions = _cdc_rs.read_deletion_vector(data, 1 if offset is None else int(offset),
                                                     size)
    except (OSError, CdcError) as exc:
        raise DeltaTargetError(f"{root}: cannot read the deletion vector {text!r} "
                               f"({exc}); restore the file or the table") from exc
    out: np.ndarray = pa.array(positions).to_numpy()
    if len(out) != int(vector.get("cardinality", len(out))):
        raise DeltaTargetError(f"{root}: the deletion vector {text!r} holds {len(out)} rows, "
                               f"its descriptor says {vector['cardinality']}")
    return out


def _vector_file(root: Path, kind: str, text: str) -> Path:
    if kind == "u":
        prefix, code = text[:-_UUID_CHARS], text[-_UUID_CHARS:]
        name = f"deletion_vector_{uuid.UUID(bytes=_cdc_rs.z85_decode(code))}.bin"
        return root / prefix / name if prefix else root / name
    if kind == "p":
        url = urlparse(text)
        if url.scheme not in ("", "file"):
            raise DeltaTargetError(f"{root}: a deletion vector at {text!r} is not on this disk")
        return Path(unquote(url.path))
    raise DeltaTargetError(f"{root}: unknown deletion vector storage type {kind!r}")


def write_vectors(root: Path, vectors: list[np.ndarray]) -> list[dict[str, Any]]:
    """One new vector file holding ``vectors`` (uint64 positions); their descriptors."""
    if not vectors:
        return []
    data, stored = _cdc_rs.deletion_vector_file(
        [pa.array(v, pa.uint64()) for v in vectors])
    name = uuid.uuid4()
    atomic_write(root / f"deletion_vector_{name}.bin", data, DeltaTargetError)
    code = _cdc_rs.z85_encode(name.bytes)
    return [{"storageType": "u", "pathOrInlineDv": code, "offset": offset,
             "sizeInBytes": size, "cardinality": cardinality}
            for offset, size, cardinality in stored]
