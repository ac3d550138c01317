"""Helpers several contenders share (not a contender)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def lossy_utf8(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Binary values as UTF-8 strings, invalid bytes replaced by U+FFFD (Spark's
    ``CAST(value AS STRING)``). Vectorised: only rows holding a byte >= 0x80 are looked at
    in Python, and only when the column is not valid UTF-8 as a whole."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.binary():
        values = values.cast(pa.binary())
    try:
        return values.cast(pa.string())  # validates
    except pa.ArrowInvalid:
        pass
    unchecked = pc.cast(values, options=pc.CastOptions(
        target_type=pa.string(), allow_invalid_utf8=True))
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[
        values.offset: values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    high = np.flatnonzero(data >= 0x80) + offsets[0]
    rows = np.unique(np.searchsorted(offsets, high, side="right") - 1)
    fixed = []
    for i in rows.tolist():
        b = values[i].as_py()
        fixed.append(b.decode("utf-8", "replace"))
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(unchecked, pa.array(mask), pa.array(fixed, pa.string()))
