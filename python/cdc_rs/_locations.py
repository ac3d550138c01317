"""Where each key's row lives, as a merge-on-read table's bookkeeping records it.

In memory a live key holds a row *position* (see :class:`FileIndex`), but positions are
numbered anew each time a table is opened. On disk the bookkeeping therefore records a
*place*: ``location.file`` (the data file's path in the table) and ``location.row`` (the
row in it). Data files never change, so a place stays true until its file leaves the
table: a compaction then writes ``moved-<version>.parquet`` (old place -> new place).

Opening a table turns places back into positions without reading a data file. Whenever
the places do not account for the table exactly (a file some other writer removed, rows it
added), :func:`located_state` or the Rust restore says so and the target matches the keys
of the data files instead, as tables without places (older bookkeeping) always do.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _cdc_rs
from ._bookkeeping import state_columns
from ._merge_on_read import FileIndex, LiveFile

FILE = "location.file"
ROW = "location.row"
_MOVES = pa.schema([("from.file", pa.string()), ("from.row", pa.uint32()),
                    ("to.file", pa.string()), ("to.row", pa.uint32())])


def with_places(state: pa.Table, files: list[LiveFile], positions: np.ndarray) -> pa.Table:
    """``state`` (``key.*``, ``sequence.*``, ``live``) with the place of each live key's
    row; ``positions`` holds one position per live row of ``state``, in order, each in one
    of ``files``."""
    live = state.column("live").to_numpy(zero_copy_only=False)
    if len(positions) != int(live.sum()):
        raise ValueError(f"{len(positions)} row positions for {int(live.sum())} live keys")
    which, rows = _split(files, positions)
    at = np.cumsum(live) - 1  # the live row's index into positions
    mask = ~live
    paths = pa.array([f.path for f in files], pa.string())
    file_index = pa.array(which[at] if len(which) else np.zeros(len(live), np.int32),
                          pa.int32(), mask=mask)
    row = pa.array(rows[at] if len(rows) else np.zeros(len(live), np.uint32),
                   pa.uint32(), mask=mask)
    return state.append_column(FILE, pa.DictionaryArray.from_arrays(file_index, paths)) \
        .append_column(ROW, row)


def moves(index: FileIndex, old: np.ndarray, new: np.ndarray) -> pa.Table:
    """A compaction's moves as places: each row from position ``old`` to ``new``."""
    def places(positions: np.ndarray) -> tuple[pa.Array, pa.Array]:
        which, rows = _split(index.files, positions)
        paths = pa.array([f.path for f in index.files], pa.string())
        return (pa.DictionaryArray.from_arrays(pa.array(which, pa.int32()), paths),
                pa.array(rows, pa.uint32()))

    return pa.table(dict(zip(_MOVES.names, [*places(old), *places(new)])))


def located_state(parts: list[pa.Table], index: FileIndex,
                  moved: list[pa.Table]) -> pa.Table | None:
    """The bookkeeping ``parts`` (oldest first) as one state with the row ``position`` in
    ``index`` of each live key's place, following the ``moved`` tables. A place found in no
    live file has a null position: only a key's last row counts, which the Rust restore
    checks. None if a part records no places (older bookkeeping)."""
    live_files = {f.path: f for f in index.files if not f.removed}
    out = []
    for part in parts:
        if FILE not in part.column_names:
            if pc.any(part.column("live")).as_py():
                return None
            positions = pa.nulls(part.num_rows, pa.uint32())
        else:
            positions = _positions(part.column(FILE), part.column(ROW), live_files, moved)
        out.append(part.select(state_columns(part)).append_column("position", positions))
    if not out:
        return None
    schema = out[-1].schema
    return pa.concat_tables([p.cast(schema, safe=False).replace_schema_metadata(None)
                             for p in out])


def _positions(files: pa.ChunkedArray, rows: pa.ChunkedArray, live: dict[str, LiveFile],
               moved: list[pa.Table]) -> pa.ChunkedArray:
    """The positions of places, chunk by chunk (a snapshot's row groups: no copy of them
    whole); null where there is none, or it is in no live file."""
    chunks = pa.table({FILE: files, ROW: rows}).to_batches()
    return pa.chunked_array([_chunk_positions(c.column(0), c.column(1), live, moved)
                             for c in chunks], pa.uint32())


def _chunk_positions(file: pa.Array, row: pa.Array, live: dict[str, LiveFile],
                     moved: list[pa.Table]) -> pa.Array:
    if not pa.types.is_dictionary(file.type):
        file = pc.dictionary_encode(file)
    row = row.cast(pa.uint32())
    positions, gone = _lookup(file, row, live)
    if len(gone) and moved:
        new_file, new_row = _follow(pc.cast(file.take(gone), pa.string()), row.take(gone),
                                    live, moved)
        found, _ = _lookup(pc.dictionary_encode(new_file), new_row, live)
        at = gone.to_numpy()
        values = positions.fill_null(0).to_numpy(zero_copy_only=False).copy()
        valid = positions.is_valid().to_numpy(zero_copy_only=False).copy()
        values[at] = found.fill_null(0).to_numpy(zero_copy_only=False)
        valid[at] = found.is_valid().to_numpy(zero_copy_only=False)
        positions = pa.array(values, pa.uint32(), mask=~valid)
    return positions


def _lookup(file: pa.DictionaryArray, row: pa.Array,
            live: dict[str, LiveFile]) -> tuple[pa.Array, pa.Array]:
    """The positions of (file, row) places (null where there is none) and which places are
    in files no longer live; looked up per file of the dictionary (few), then per row in
    one pass (``_cdc_rs.place_positions``)."""
    paths = file.dictionary.to_pylist()
    starts = pa.array([live[p].start if p in live else -1 for p in paths], pa.int64())
    sizes = pa.array([live[p].rows if p in live else 0 for p in paths], pa.int64())
    indices = file.indices.cast(pa.int32())
    positions, gone = _cdc_rs.place_positions(indices, row, starts, sizes)
    return positions, gone


def _follow(file: pa.Array, row: pa.Array, live: dict[str, LiveFile],
            moved: list[pa.Table]) -> tuple[pa.Array, pa.Array]:
    """The places after the compactions that moved rows out of files no longer live (a row
    may have moved several times); null where a row left its file some other way (e.g.
    replaced, then its file compacted)."""
    hops = _hops(moved)
    live_paths = pa.array(list(live), pa.string())
    for _ in range(len(moved) + 1):
        lost = pc.and_(file.is_valid(), pc.invert(pc.is_in(file, live_paths)))
        if not pc.any(lost).as_py():
            break
        todo = pa.table({"from.file": file, "from.row": row,
                         "at": pa.array(np.arange(len(file)))}).filter(lost)
        found = todo.join(hops, ["from.file", "from.row"], join_type="left outer").sort_by("at")
        # in the order of the lost rows, one for one (_hops keeps one move per place)
        file = pc.replace_with_mask(file, lost, found.column("to.file").combine_chunks())
        row = pc.replace_with_mask(row, lost, found.column("to.row").combine_chunks())
    lost = pc.and_(file.is_valid(), pc.invert(pc.is_in(file, live_paths)))
    return pc.if_else(lost, None, file), pc.if_else(lost, None, row)


def _hops(moved: list[pa.Table]) -> pa.Table:
    """The moves of all compactions, oldest first, one per place: a file restored into the
    table and compacted again moved its rows twice; the newest move counts."""
    if not moved:
        return _MOVES.empty_table()
    hops = pa.concat_tables([m.cast(_MOVES) for m in moved])
    newest = hops.append_column("order", pa.array(np.arange(hops.num_rows))) \
        .group_by(["from.file", "from.row"]).aggregate([("order", "max")])
    return hops.take(newest.column("order_max"))


def _split(files: list[LiveFile], positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The index in ``files`` of the file holding each position, and the row in it."""
    if len(positions) == 0 or not files:
        return np.zeros(0, np.int32), np.zeros(0, np.uint32)
    starts = np.array([f.start for f in files], np.int64)
    positions = positions.astype(np.int64)
    which = np.searchsorted(starts, positions, side="right") - 1
    return which.astype(np.int32), (positions - starts[which]).astype(np.uint32)
