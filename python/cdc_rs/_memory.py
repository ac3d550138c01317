"""The Rust side's allocator settings, unless the user set them.

Freed memory that an allocator keeps counts in RSS. The extension's jemalloc gives freed
pages back after ``dirty_decay_ms``, 10 s by default: loading a big Delta table in 1M-row
batches, the previous batch's plan was still resident when the next one grew the key index.
At 1 s that process peaks about 250 MB lower (bench/memory_delta.py, 10M rows), at no cost
in time. ``_RJEM_MALLOC_CONF`` set by the user wins. pyarrow's own pool is left as it is.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

JEMALLOC_CONF = "_RJEM_MALLOC_CONF"
JEMALLOC_DEFAULTS = "dirty_decay_ms:1000"


@contextlib.contextmanager
def native_allocator_defaults() -> Iterator[None]:
    """Around the import of the extension: its jemalloc reads the environment then."""
    if JEMALLOC_CONF in os.environ:
        yield
        return
    os.environ[JEMALLOC_CONF] = JEMALLOC_DEFAULTS
    try:
        yield
    finally:
        os.environ.pop(JEMALLOC_CONF, None)  # not passed on to subprocesses
