"""Lesson 10's figure: the workers and the queue of each set-up over time, stacked on a shared time axis."""

from __future__ import annotations

from labapp.i18n import _, ngettext

COLORS = ("#8e44ad", "#1f5fa8", "#e08a1e", "#2e8b57", "#c0392b", "#17a2b8")
# set-ups often sit at the same count (8 workers, an empty queue): wide solid lines under narrow dashed ones
STYLES = (("-", 3.2), ("--", 2.4), ("-.", 1.8), (":", 2.2), ("-", 1.0), ("--", 1.0))
BURST = "#9e9e9e"


def timeline_figure(results, *, title: str | None = None):
    """Task slots (top) and tasks waiting (bottom) against seconds since the trace started, one line per set-up;
    dotted lines where the trace's bursts begin."""
    from labapp.plots import _new_figure

    fig = _new_figure((8, 6.2))  # in a notebook, a returned figure shows as a picture (not '<Figure ...>')
    workers_ax, queue_ax = fig.subplots(2, 1, sharex=True)
    for result, color, (style, width) in zip(results, COLORS * 2, STYLES * 2):
        times = [sample.at for sample in result.samples]
        line = dict(where="post", color=color, linestyle=style, linewidth=width)
        workers_ax.step(times, [s.slots for s in result.samples], label=result.setup.label, **line)
        queue_ax.step(times, [s.queue for s in result.samples], **line)
    trace = results[0].trace if results else None
    for burst in trace.bursts if trace is not None else ():
        for ax in (workers_ax, queue_ax):
            ax.axvline(burst.at, color=BURST, linestyle=":", linewidth=1)
    workers_ax.set_ylabel(_("workers (task slots)"))
    workers_ax.set_ylim(0, max([r.peak_slots for r in results] + [1]) + 0.6)
    queue_ax.set_ylabel(_("tasks waiting in the queue"))
    queue_ax.set_ylim(bottom=0)
    queue_ax.set_xlabel(_("seconds since the trace started"))
    queue_ax.set_xlim(left=0)
    for ax in (workers_ax, queue_ax):
        ax.grid(True, alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    if title is None and trace is not None:
        title = ngettext(
            "One bursty trace, {n} set-up: {trace}", "One bursty trace, {n} set-ups: {trace}", len(results)
        ).format(n=len(results), trace=trace.describe())
    if title:
        fig.suptitle(title, fontsize=9, wrap=True)
    return fig
