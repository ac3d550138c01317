"""Reading bronze Parquet files fast: view arrays over the pages, read ahead of the engine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence

import pyarrow as pa

from . import _cdc_rs

PathLike = str | os.PathLike[str]


def read_parquet(path: PathLike, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a Parquet file, or some of its columns, into a ``pyarrow.Table``.

    String and binary columns come back as ``string_view`` / ``binary_view``: each value
    points into the decompressed page it was stored in instead of being copied into one
    growing buffer, which is what makes reading a bronze file of JSON events cheap. The
    upserts read these types directly; ``table.cast(schema)`` gives the plain types back.
    Row groups are read in parallel, without the GIL.

    Args:
        path: the Parquet file.
        columns: the columns to read, in this order (default: all).

    Raises:
        InputError: the file cannot be opened, is not Parquet, or lacks a column asked for.

    Example:
        >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq, cdc_rs
        >>> path = tempfile.mkdtemp() + "/bronze.parquet"
        >>> pq.write_table(pa.table({"topic": ["customers"], "value": [b'{"id": 1}']}), path)
        >>> cdc_rs.read_parquet(path, columns=["value", "topic"]).schema
        value: binary_view
        topic: string_view
    """
    return _cdc_rs.read_parquet(os.fspath(path), None if columns is None else list(columns))


def scan_parquet(path: PathLike, columns: Sequence[str] | None = None, *,
                 batch_rows: int = 65_536, read_ahead: int = 1) -> pa.RecordBatchReader:
    """Read a Parquet file lazily: a ``pyarrow.RecordBatchReader`` of ``batch_rows`` rows at a
    time, read by a background thread at most ``read_ahead`` batches ahead of the consumer.

    Hand it to an upsert as the micro-batch: the engine decodes each part as it arrives
    and drops its bronze bytes, so a file far larger than its decoded rows never sits in
    memory whole, and the next part is read while this one is decoded. The types are those
    of :func:`read_parquet` (byte columns as views).

    Args:
        path: the Parquet file.
        columns: the columns to read, in this order (default: all).
        batch_rows: rows per batch (at least 1).
        read_ahead: batches the reading thread may hold before the consumer takes them
            (a bound, not a reservation; values above 64 act as 64).

    Raises:
        InputError: the file cannot be opened, is not Parquet, or lacks a column asked for
            (raised at once); a page that cannot be decoded fails the read that meets it.

    Example:
        >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq, cdc_rs
        >>> path = tempfile.mkdtemp() + "/bronze.parquet"
        >>> pq.write_table(pa.table({"value": [b"{}"] * 5}), path)
        >>> [b.num_rows for b in cdc_rs.scan_parquet(path, batch_rows=2)]
        [2, 2, 1]
    """
    if batch_rows < 1 or read_ahead < 0:
        raise ValueError(f"batch_rows must be 1 or more and read_ahead 0 or more, got "
                         f"{batch_rows} and {read_ahead}")
    return _cdc_rs.scan_parquet(os.fspath(path), None if columns is None else list(columns),
                                batch_rows, read_ahead)


def scan_parquet_files(paths: Iterable[PathLike], columns: Sequence[str] | None = None, *,
                       batch_rows: int = 65_536, read_ahead: int = 1,
                       ) -> Iterator[pa.RecordBatchReader]:
    """:func:`scan_parquet` over files one after another, each opened while the one before is
    still being consumed: the merge at the end of a micro-batch runs mostly on one core,
    and meanwhile the next file's first batches are read on the other.

    Made for replaying bronze micro-batch files: memory stays bounded by the batches in
    flight (two files open, each at most ``read_ahead + 1`` batches of ``batch_rows`` rows),
    however large the files. A file that cannot be opened raises when its turn comes.

    Args:
        paths: the files, read in this order.
        columns, batch_rows, read_ahead: as for :func:`scan_parquet`, for every file.

    Yields:
        One ``pyarrow.RecordBatchReader`` per file, read on its own thread; the next file is
        opened as this one is handed out.

    Example:
        >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq, cdc_rs
        >>> folder = tempfile.mkdtemp()
        >>> for i in range(3):
        ...     pq.write_table(pa.table({"value": [b"{}"] * (i + 1)}), f"{folder}/bronze-{i}.parquet")
        >>> files = [f"{folder}/bronze-{i}.parquet" for i in range(3)]
        >>> [scan.read_all().num_rows for scan in cdc_rs.scan_parquet_files(files)]
        [1, 2, 3]
    """
    remaining = iter(paths)

    def open_next() -> Callable[[], pa.RecordBatchReader] | None:
        path = next(remaining, None)
        if path is None:
            return None
        try:
            scan = scan_parquet(path, columns, batch_rows=batch_rows, read_ahead=read_ahead)
        except Exception as exc:  # noqa: BLE001 - raised when its turn comes, not a file early
            def fail(exc: Exception = exc) -> pa.RecordBatchReader:
                raise exc
            return fail
        return lambda: scan

    upcoming = open_next()
    while upcoming is not None:
        current, upcoming = upcoming, open_next()
        yield current()
