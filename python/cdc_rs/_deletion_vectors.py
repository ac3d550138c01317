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
from ._store import LocalStore, Store
from .exceptions import CdcError, DeltaTargetError

_UUID_CHARS = 20  # a UUID in Z85


def deleted_positions(store: Store, vector: dict[str, Any] | None) -> np.ndarray:
    """The sorted deleted row positions (uint64) a descriptor names; none without one."""
    if not vector:
        return np.zeros(0, dtype=np.uint64)
    kind, text, size = vector["storageType"], vector["pathOrInlineDv"], int(vector["sizeInBytes"])
    try:
        if kind == "i":
            positions = _cdc_rs.read_deletion_vector(_cdc_rs.z85_decode(text), None, size)
        else:
            offset = vector.get("offset")
            data = _vector_bytes(store, kind, text)
            positions = _cdc_rs.read_deletion_vector(data, 1 if offset is None else int(offset),
                                                     size)
    except (OSError, CdcError) as exc:
        raise DeltaTargetError(f"{store}: cannot read the deletion vector {text!r} "
                               f"({exc}); restore the file or the table") from exc
    out: np.ndarray = pa.array(positions).to_numpy()
    if len(out) != int(vector.get("cardinality", len(out))):
        raise DeltaTargetError(f"{store}: the deletion vector {text!r} holds {len(out)} rows, "
                               f"its descriptor says {vector['cardinality']}")
    return out


def _vector_bytes(store: Store, kind: str, text: str) -> bytes:
    if kind == "u":  # a file of the table, named by a UUID after an optional folder
        prefix, code = text[:-_UUID_CHARS], text[-_UUID_CHARS:]
        name = f"deletion_vector_{uuid.UUID(bytes=_cdc_rs.z85_decode(code))}.bin"
        return store.read(f"{prefix}/{name}" if prefix else name)
    if kind == "p":  # an absolute path: on this disk, or inside the table on its store
        url = urlparse(text)
        if isinstance(store, LocalStore) and url.scheme in ("", "file"):
            return Path(unquote(url.path)).read_bytes()
        if text.startswith(store.uri + "/"):
            return store.read(unquote(text[len(store.uri) + 1:]))
        raise DeltaTargetError(f"{store}: a deletion vector at {text!r} is outside the table")
    raise DeltaTargetError(f"{store}: unknown deletion vector storage type {kind!r}")


def write_vectors(store: Store, vectors: list[np.ndarray]) -> list[dict[str, Any]]:
    """One new vector file holding ``vectors`` (uint64 positions); their descriptors."""
    if not vectors:
        return []
    data, stored = _cdc_rs.deletion_vector_file(
        [pa.array(v, pa.uint64()) for v in vectors])
    name = uuid.uuid4()
    store.write(f"deletion_vector_{name}.bin", data)
    code = _cdc_rs.z85_encode(name.bytes)
    return [{"storageType": "u", "pathOrInlineDv": code, "offset": offset,
             "sizeInBytes": size, "cardinality": cardinality}
            for offset, size, cardinality in stored]
