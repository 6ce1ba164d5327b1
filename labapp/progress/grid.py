"""The instructor's live view of the class: ``ProgressGrid(cluster)``, students × exercises, updated each second.

It reads what the students' checks report (labapp.progress) with the classroom cluster's own
connection, from a background thread that writes only widget values (see labapp.widgets), and
has a Reveal button per exercise that publishes its solution to the class, as `labapp reveal`
does with the class's broker as the store.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path

import ipywidgets as w

from labapp import progress
from labapp.i18n import _
from labapp.widgets import _Poller, _table

INTERVAL = 1.0  # seconds between two reads of the class's progress
PASSED, FAILED, UNTRIED = "#2e7d32", "#c62828", "#9e9e9e"


def publish_solution(cluster, exercise: str, root: str | Path) -> str:
    """Publish exercise's solution to the class (the reveal store in its broker); return what happened, in a line."""
    from labapp.authoring import reveal_store
    from labapp.authoring.exercises import SOLUTIONS
    from labapp.authoring.translation import FOLDER, LANG
    from labapp.reveal import solution_parts

    try:
        english = solution_parts(root, exercise, "en")
        translated = (
            solution_parts(root, exercise, LANG)
            if any((Path(root) / SOLUTIONS / FOLDER).glob(f"{exercise}_*.ipynb"))
            else None
        )
        store = reveal_store.RedisStore(cluster.broker_url)
        store.publish(reveal_store.record(exercise, english, {LANG: translated} if translated else None))
    except (ValueError, reveal_store.StoreError) as exc:
        return _("Nothing revealed: {reason}").format(reason=exc)
    return _("revealed {name} to the class: a student's reveal({quoted}) now shows it").format(
        name=exercise, quoted=repr(exercise)
    )


def _mark(entry: dict | None) -> str:
    if entry is None:
        return f'<span style="color:{UNTRIED}">\u00b7</span>'
    color, sign = (PASSED, "\u2713") if entry["passed"] else (FAILED, "\u2717")
    return f'<span style="color:{color};font-weight:bold" title="{html.escape(entry["message"])}">{sign}</span>'


def grid_html(snapshot: dict, width: int = 60) -> str:
    """The snapshot as an HTML table: a row per student, ✓/✗/· per exercise, last check, latest message."""
    exercises = list(snapshot["exercises"])
    rows = []
    for name, student in snapshot["students"].items():
        done = student["exercises"]
        latest = max(done.values(), key=lambda entry: entry["at"], default=None)
        message = "" if latest is None else latest["message"]
        rows.append(
            [
                html.escape(name),
                *(_mark(done.get(exercise)) for exercise in exercises),
                html.escape(progress.ago(student["last_attempt_seconds_ago"])),
                html.escape(message if len(message) <= width else message[: width - 1] + "\u2026"),
            ]
        )
    headers = [_("student"), *exercises, _("last check"), _("latest message")]
    return _table([html.escape(h) for h in headers], rows, _("no student has joined or run a check yet"))


class ProgressGrid(w.VBox):
    """The class's progress, live: the grid, a count line and a Reveal button per exercise."""

    def __init__(
        self, cluster, exercises: list[str] | None = None, root: str | Path | None = None, interval: float = INTERVAL
    ):
        from labapp.reveal import find_root

        self.cluster = cluster
        self.root = find_root(root)  # the project's folder, wherever the notebook is (notebooks/, notebooks/pt-BR/)
        self.interval = interval
        self.reader = progress.ClassProgress.of_cluster(cluster, exercises or progress.default_exercises(self.root))
        self.grid = w.HTML()
        self.status = w.HTML()
        self.said = w.Output()
        self.counts: dict[str, w.HTML] = {}
        self.buttons: dict[str, w.Button] = {}
        self.updates = 0  # how many times the grid was redrawn (tests and the curious read it)
        self._lock = threading.Lock()  # a cell's refresh() and the update thread's never read the list at once
        rows = [self._exercise_row(exercise) for exercise in self.reader.exercises()]
        super().__init__([self.grid, *rows, self.status, self.said])
        self._poller = _Poller(self._step, "progress")
        self.refresh()
        self._poller.start()

    def _exercise_row(self, exercise: str) -> w.HBox:
        button = w.Button(
            description=_("Reveal {exercise}").format(exercise=exercise),
            layout=w.Layout(width="130px", min_width="130px"),
        )
        button.on_click(lambda _button, exercise=exercise: self.reveal(exercise))
        self.buttons[exercise], self.counts[exercise] = button, w.HTML()
        return w.HBox([button, self.counts[exercise]])

    def reveal(self, exercise: str) -> str:
        """Publish exercise's solution to the class; the line saying so goes under the grid."""
        said = publish_solution(self.cluster, exercise, self.root)
        self.said.append_stdout(said + "\n")  # a click handler has no cell to print in
        return said

    def refresh(self) -> dict:
        """Read new reports and redraw; return the snapshot shown."""
        with self._lock:
            self.reader.refresh()
            snapshot = self.reader.snapshot()
        self.grid.value = grid_html(snapshot)
        for exercise, counts in snapshot["exercises"].items():
            if exercise in self.counts:
                self.counts[exercise].value = html.escape(progress.summary_line(exercise, counts), quote=False)
        self.status.value = '<span style="color:#757575">{}</span>'.format(
            html.escape(_("updated at {time}, each second").format(time=time.strftime("%H:%M:%S")))
        )
        self.updates += 1
        return snapshot

    def _step(self) -> float | None:
        try:
            if not self.cluster.running:
                self.status.value = html.escape(_("updates stopped: the cluster is not running"))
                return None
            self.refresh()
        except Exception as exc:  # a broker that restarts: say it, and try again
            self.status.value = html.escape(_("cannot read the class's progress: {error}").format(error=exc))
        return self.interval

    def stop(self) -> None:
        """Stop the updates."""
        self._poller.stop()
