"""Named points on the durable write path, where tests inject faults.

In the installed package each point does nothing. A test replaces :func:`reached` (e.g.
``tests/crash_worker.py`` kills its own process at a named point), so no environment
variable can make a user's process misbehave.
"""

from __future__ import annotations


def reached(point: str) -> None:
    """Called at each named point (``after_data_files``, ``before_commit``, ``after_commit``,
    ``after_snapshot``, ``after_read``, ``after_offsets``, ``before_offsets_commit``)."""
