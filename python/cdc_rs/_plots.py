"""A run's reports at a glance: events per batch by outcome, time per batch, rejects by reason."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Sequence

from ._report import OUTCOMES, BatchReport
from .exceptions import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_reports(reports: Sequence[BatchReport], *, title: str = "") -> "Figure":
    """Three panels over a run's batch reports, as a matplotlib ``Figure``.

    - events per batch, stacked by outcome (inserted, updated, stale, malformed, ...);
    - seconds per batch (skipped replays are marked, not timed);
    - rejected rows by reason, over all batches.

    Needs matplotlib (``pip install matplotlib``). In a notebook the figure shows itself.

    Example:
        >>> reports = upsert.apply_all(batches)          # doctest: +SKIP
        >>> cdc_rs.plot_reports(reports, title="customers_silver")   # doctest: +SKIP
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError("plot_reports needs matplotlib: pip install matplotlib") from exc
    reports = list(reports)
    if not reports:
        raise ConfigError("plot_reports needs at least one report")

    fig, (by_outcome, timing, rejects) = plt.subplots(
        1, 3, figsize=(16, 4.5), gridspec_kw={"width_ratios": [3, 2, 2]})
    batches = [str(r.batch_id) for r in reports]

    # Events per batch by outcome: only the outcomes that happened, in screening order.
    # Each outcome keeps its colour whichever happened (twelve outcomes: tab20 has twenty).
    colours = [plt.get_cmap("tab20")(i) for i in range(len(OUTCOMES))]
    present = [name for name in OUTCOMES if any(getattr(r, name) for r in reports)]
    bottom = [0] * len(reports)
    for name in present:
        counts = [getattr(r, name) for r in reports]
        by_outcome.bar(batches, counts, bottom=bottom, label=name,
                       color=colours[OUTCOMES.index(name)])
        bottom = [b + c for b, c in zip(bottom, counts)]
    by_outcome.set(title="events per batch, by outcome", xlabel="batch id", ylabel="events")
    if present:  # beside the bars, top outcome first, as they are stacked
        handles, labels = by_outcome.get_legend_handles_labels()
        by_outcome.legend(handles[::-1], labels[::-1], fontsize="small", loc="upper left",
                          bbox_to_anchor=(1.0, 1.0))

    # Seconds per batch; a skipped replay did no work, so it gets a mark instead of a bar.
    seconds = [0.0 if r.skipped_replay else r.seconds for r in reports]
    unit, scale = ("ms", 1000.0) if max(seconds) < 1 else ("seconds", 1.0)
    timing.bar(batches, [s * scale for s in seconds], color="tab:gray")
    for i, r in enumerate(reports):
        if r.skipped_replay:
            timing.annotate("replay\nskipped", (i, 0), ha="center", va="bottom", fontsize="small")
    timing.set(title="time per batch", xlabel="batch id", ylabel=unit)

    # Rejected rows by reason, over the whole run.
    reasons: Counter[str] = Counter()
    for r in reports:
        if r.rejected.num_rows:
            reasons.update(r.rejected.column("reason").to_pylist())
    if reasons:
        ranked = reasons.most_common()
        rejects.barh([name for name, _ in ranked], [n for _, n in ranked], color="tab:red")
        rejects.invert_yaxis()
    else:
        rejects.text(0.5, 0.5, "no rejected rows", ha="center", va="center",
                     transform=rejects.transAxes)
    rejects.set(title="rejected rows, by reason", xlabel="rows")

    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)  # returned, not drawn twice: a notebook shows the returned figure
    return fig
