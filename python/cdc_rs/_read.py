"""Reading bronze Parquet files fast: view arrays over the pages, the next file read ahead."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

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


def read_parquet_files(paths: Iterable[PathLike], columns: Sequence[str] | None = None, *,
                       read_ahead: int = 1) -> Iterator[pa.Table]:
    """Read Parquet files one after another, the next ``read_ahead`` files on a background
    thread while the caller works on the current one.

    Made for replaying bronze micro-batches: the engine's merge runs mostly on one core, so
    reading the next file at the same time keeps the other core busy. At most
    ``read_ahead + 1`` files are in memory at once.

    Args:
        paths: the files, read in this order.
        columns: the columns to read from each (default: all).
        read_ahead: how many files to read beyond the current one (0: none, no thread).

    Yields:
        One ``pyarrow.Table`` per file, as :func:`read_parquet` returns it.

    Example:
        >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq, cdc_rs
        >>> folder = tempfile.mkdtemp()
        >>> for i in range(3):
        ...     pq.write_table(pa.table({"value": [b"{}"] * (i + 1)}), f"{folder}/bronze-{i}.parquet")
        >>> files = [f"{folder}/bronze-{i}.parquet" for i in range(3)]
        >>> [t.num_rows for t in cdc_rs.read_parquet_files(files)]
        [1, 2, 3]
    """
    if read_ahead < 0:
        raise ValueError(f"read_ahead must be 0 or more, got {read_ahead}")
    paths = iter(paths)
    if read_ahead == 0:
        yield from (read_parquet(p, columns) for p in paths)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="cdc_rs-read-ahead") as reader:
        pending: deque[Future[pa.Table]] = deque()
        try:
            while True:
                while len(pending) <= read_ahead:
                    path = next(paths, None)
                    if path is None:
                        break
                    pending.append(reader.submit(read_parquet, path, columns))
                if not pending:
                    return
                yield pending.popleft().result()
        finally:
            # A consumer that stops early (or fails) does not wait for files it will not use.
            for future in pending:
                future.cancel()
