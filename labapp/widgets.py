"""Notebook widgets: submit tasks, watch them run and drive the workers of a live cluster.

``Dashboard(cluster)`` shows the three parts together: a ``TaskLauncher``, a
``TaskBoard`` and a ``WorkerPanel``. They read the cluster through its HTTP
API (``cluster.client``), the way any front end would; only scaling and
killing workers, which are process operations the API cannot do, call the
``Cluster`` object itself.

Live updates run in background daemon threads, not on the kernel's asyncio
loop: the loop is blocked while any cell runs (a ``time.sleep`` or a
``cluster.scale(1)`` that waits for busy workers), and the board would freeze
exactly when the student waits for it; the HTTP client is blocking anyway;
and a thread works the same in plain pytest, where no loop runs. ipykernel
sends widget messages from any thread (each thread gets its own pipe to the
IOPub thread). Background threads write only to widget values, never to
stdout, which would land in whatever cell runs at that moment.
"""

from __future__ import annotations

import html
import socket
import threading
import time
import weakref

import ipywidgets as w

from labapp.api.client import ApiError
from labapp.engine import processes
from labapp.i18n import _, ngettext

FINAL_STATES = ("SUCCESS", "FAILURE", "REVOKED", "UNKNOWN")
# UNKNOWN: the API answers 404, the cluster no longer knows the id (restarted, or the result expired)
STATE_COLORS = {
    "PENDING": "#757575",
    "STARTED": "#1565c0",
    "PROGRESS": "#1565c0",
    "SUCCESS": "#2e7d32",
    "FAILURE": "#c62828",
    "REVOKED": "#ef6c00",
}
THREAD_PREFIX = "labapp-widgets"
BOARD_INTERVAL = 0.5  # seconds between status polls while tasks are in flight
PANEL_INTERVAL = 1.0  # seconds between worker polls while the cluster is busy
PANEL_IDLE_INTERVAL = 3.0  # ... and while it is idle
SILENT_AFTER = 2.5  # seconds without a heartbeat before a worker is shown as silent
MAX_ROWS = 50
MAX_SCALE = 8


# ------------------------------------------------------------------ helpers
def _running(cluster) -> bool:
    try:
        return bool(cluster.running)
    except Exception:  # read while stop() tears it down on another thread
        return False


def _short(task_id: str) -> str:
    return task_id[:8]


def _node_short(node: str | None) -> str:
    return (node or "").split("@", 1)[0]


def _message(text: str, color: str = "#333") -> str:
    return f'<span style="color:{color}">{html.escape(text)}</span>'


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    """An HTML table; cells are HTML already escaped by the caller."""
    if not rows:
        return f'<div style="color:#757575;padding:4px 0">{html.escape(empty)}</div>'
    cell = "padding:2px 10px 2px 0;text-align:left;white-space:nowrap"
    head = "".join(f'<th style="{cell};border-bottom:1px solid #bbb">{h}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td style="{cell}">{c}</td>' for c in row) + "</tr>" for row in rows)
    return f'<table style="border-collapse:collapse;font-family:monospace;font-size:12px"><tr>{head}</tr>{body}</table>'


def _progress_bar(current: int, total: int) -> str:
    total = max(1, total or 1)
    percent = max(0, min(100, round(100 * (current or 0) / total)))
    return (
        '<div style="display:inline-block;vertical-align:middle;width:90px;height:10px;'
        'background:#e0e0e0;border-radius:3px;overflow:hidden">'
        f'<div style="width:{percent}%;height:100%;background:#1e88e5"></div></div>'
        f" {current}/{total}"
    )


def _truncate(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 12] + "…" + text[-10:]


def _result_text(row: dict) -> str:
    result = row.get("result")
    if row["state"] in ("FAILURE", "REVOKED"):
        return _truncate(row.get("error") or row["state"], 60)
    if not isinstance(result, dict):
        return "" if result is None else _truncate(str(result))
    if "value" in result and "digits" in result:  # factorial: the value can be 77k digits
        return f"{_truncate(result['value'])} ({result['digits']} digits)"
    if "message" in result:
        return result["message"]
    return _truncate(str(result))


class _Poller:
    """Calls ``step()`` from a daemon thread; ``step`` returns the seconds to sleep, or None to end.

    The thread exists only while there is something to watch: ``start()``
    (re)starts or wakes it, ``stop()`` ends it and waits for it.
    """

    def __init__(self, step, name: str):
        self._step = step
        self._name = f"{THREAD_PREFIX}-{name}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the thread, or wake it for an early step if it runs."""
        with self._lock:
            self._stop.clear()
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                delay = self._step()
                if delay is None:
                    with self._lock:  # a start() while we stepped means new work: go on
                        if not self._wake.is_set() or self._stop.is_set():
                            # let go of the slot under the same lock: a start() right after
                            # this must see no thread and start a new one
                            self._thread = None
                            return
                else:
                    self._wake.wait(delay)
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None


STOPPED_BY_CALL = "updates stopped: stop() was called"
REPLACED = "updates stopped: a newer widget of this cluster took over (the cell ran again?)"
NOT_RUNNING = "updates stopped: the cluster is not running"
RUNNING_STATES = ("STARTED", "PROGRESS")


def _stop_reason(why: str) -> str:
    """Why updates stopped, in the reader's language (the constants above are the English keys)."""
    return {
        STOPPED_BY_CALL: _("updates stopped: stop() was called"),
        REPLACED: _("updates stopped: a newer widget of this cluster took over (the cell ran again?)"),
        NOT_RUNNING: _("updates stopped: the cluster is not running"),
    }.get(why, why)


DONE_STATES = ("SUCCESS", "FAILURE", "REVOKED")  # UNKNOWN is not done: only not known to the API


def _dead_here(worker: dict) -> bool:
    """True for the heartbeat of a worker process of this machine that no longer runs: a killed
    worker's beat stays in Redis for up to heartbeat.TTL seconds after its process died."""
    host = worker.get("name", "").rpartition("@")[2]
    pid = worker.get("pid")
    return host == socket.gethostname() and isinstance(pid, int) and not processes.is_alive(pid)


class Reading:
    """One poll of the cluster: its live workers, the queue, and the state of the tasks asked about.

    Everything a dashboard shows comes from one reading, so its parts never disagree: a task the
    reading says finished is no worker's current task, a task whose worker is gone says so.
    """

    def __init__(
        self,
        workers: list[dict],
        queued: int | None,
        statuses: dict[str, dict],
        problem: str = "",
        other_apps: list[dict] | None = None,
    ):
        self.at = time.time()
        self.problem = problem
        self.other_apps = list(other_apps or [])  # another app's workers on the lab's broker (labapp env)
        self.queued = queued
        self.statuses = {i: dict(answer) for i, answer in statuses.items()}
        live = [dict(w) for w in workers if not _dead_here(w)]
        names = {w["name"] for w in live}
        for answer in self.statuses.values():
            worker = answer.get("worker")
            if answer["state"] in RUNNING_STATES and worker and worker not in names:
                answer["worker_alive"] = False
        for worker in live:
            self._current_tasks(worker)
        self.workers = live

    def _current_tasks(self, worker: dict) -> None:
        """What worker runs according to this reading: its heartbeat's tasks that have not finished
        (a beat is up to a second old), and the tasks whose status names it."""
        finished = [
            t for t in worker.get("active") or [] if self.statuses.get(t.get("id"), {}).get("state") in DONE_STATES
        ]
        current = [t for t in worker.get("active") or [] if t not in finished]
        listed = {t.get("id") for t in current}
        current += [
            {"id": i, "name": answer.get("name")}
            for i, answer in self.statuses.items()
            if answer["state"] in RUNNING_STATES and answer.get("worker") == worker["name"] and i not in listed
        ]
        worker["active"] = current
        worker["processed"] = worker.get("processed", 0) + len(finished)

    @property
    def busy(self) -> bool:
        """Tasks queued, or running on some worker."""
        return bool(self.queued) or any(w["active"] for w in self.workers)


class _Feed:
    """Polls a cluster for the widgets that show it (a board, a panel, or both in a dashboard).

    One reading feeds them all, under one lock. The thread runs while a widget has something
    to watch; one feed of each kind is live per cluster: a newer one (the cell run again)
    stops the older, which keeps showing its last reading, marked as stopped.
    """

    _live: "weakref.WeakValueDictionary[tuple, _Feed]" = weakref.WeakValueDictionary()

    def __init__(self, cluster, kind: str):
        self.cluster = cluster
        self.kind = kind
        self.lock = threading.RLock()  # views change together under it; readers take it too
        self._reading_lock = threading.Lock()  # one reading at a time, applied in order
        self.views: list[_Live] = []
        self.stopped = ""  # why updates stopped, "" while live
        self.last: Reading | None = None
        self._poller = _Poller(self._step, kind)

    @property
    def alive(self) -> bool:
        """True while the feed's thread polls."""
        return self._poller.alive

    def start(self) -> None:
        """Become the live feed of its kind for the cluster and poll (now, then as needed)."""
        key = (self.kind, id(self.cluster))
        previous = _Feed._live.get(key)
        if previous is not None and previous is not self:
            previous.stop(REPLACED)
        _Feed._live[key] = self
        self.stopped = ""
        self._poller.start()

    def stop(self, why: str = STOPPED_BY_CALL) -> None:
        """End the thread; show one last reading of the cluster, marked as stopped."""
        self._poller.stop()
        if _running(self.cluster):
            try:
                self.refresh()
            except Exception:  # the cluster went away meanwhile: keep the last reading
                pass
        self._mark_stopped(why if _running(self.cluster) else NOT_RUNNING)

    def _mark_stopped(self, why: str) -> None:
        with self.lock:
            when = time.strftime("%H:%M:%S", time.localtime(self.last.at)) if self.last else ""
            why = _stop_reason(why)
            self.stopped = _("{why} (last state seen at {when})").format(why=why, when=when) if when else why
            for view in self.views:
                view._render()

    def refresh(self) -> float | None:
        """Read the cluster once and show the reading in every view; the seconds until the
        next reading, or None when nothing needs watching."""
        if not _running(self.cluster):
            self._mark_stopped(NOT_RUNNING)
            return None
        with self._reading_lock:
            reading = self._read()
            with self.lock:
                self.last = reading
                for view in self.views:
                    view._apply(reading)
        delays = [view._delay(reading) for view in self.views]
        delays = [delay for delay in delays if delay is not None]
        return min(delays) if delays else None

    def _read(self) -> Reading:
        """Workers first, then task states: a task that ends between the two reads shows as ended."""
        client = self.cluster.client
        try:
            report = client.workers_report()
            workers, other_apps = report["workers"], report.get("other_apps") or []
            queued = client.health().get("queued")
        except ApiError as exc:
            previous = self.last
            return Reading(
                previous.workers if previous else [],
                previous.queued if previous else None,
                {},
                problem=f"API: {exc}",
                other_apps=previous.other_apps if previous else [],
            )
        wanted: list[str] = []
        for view in self.views:
            wanted += [i for i in view._wanted() if i not in wanted]
        wanted += [t["id"] for w in workers for t in w.get("active") or [] if t.get("id") and t["id"] not in wanted]
        statuses, problem = {}, ""
        for task_id in wanted:  # HTTP outside the views' lock: a click never waits for a poll
            try:
                statuses[task_id] = client.status(task_id)
            except ApiError as exc:
                if exc.status == 404:  # never issued through the API, or expired: not ours to ask
                    statuses[task_id] = {"task_id": task_id, "state": "UNKNOWN", "error": str(exc)}
                    continue
                problem = _("status of {task}: {error}").format(task=_short(task_id), error=exc)
                if exc.status in (0, 503):  # API or broker unreachable: do not hammer it
                    break
        return Reading(workers, queued, statuses, problem, other_apps)

    def _step(self) -> float | None:
        try:
            return self.refresh()
        except Exception as exc:  # never let the thread die silently
            with self.lock:
                for view in self.views:
                    view._status_text = _("update failed: {error}").format(error=f"{type(exc).__name__}: {exc}")
                    view._render()
            return PANEL_IDLE_INTERVAL


class _Fed:
    """What a widget or the dashboard says about its _Feed: polling or not, and why it stopped."""

    _feed: _Feed

    @property
    def updating(self) -> bool:
        """True while the widget's thread polls for changes."""
        return self._feed.alive

    @property
    def stopped(self) -> str:
        """Why live updates stopped ("" while they run)."""
        return self._feed.stopped


class _Live(_Fed):
    """A widget fed by a _Feed: its own, or one it shares with the other parts of a dashboard."""

    def _join(self, feed: "_Feed | None", cluster, kind: str) -> None:
        self._feed = feed or _Feed(cluster, kind)
        self._feed.views.append(self)
        self._lock = self._feed.lock

    @property
    def seen_at(self) -> float | None:
        """When the cluster was read for what the widget shows (time.time())."""
        last = self._feed.last
        return last.at if last else None

    def stop(self) -> None:
        """Stop live updates (the widget keeps showing its last state, and says it stopped)."""
        self._feed.stop()

    def close(self) -> None:
        """Stop live updates and close the widget."""
        self.stop()
        super().close()

    def _wanted(self) -> list[str]:
        return []

    def _stopped_html(self, html_text: str) -> str:
        """Content shown greyed while updates are stopped."""
        if not self._feed.stopped:
            return html_text
        return f'<div style="opacity:0.55">{html_text}</div>'


# ------------------------------------------------------------------ the board
class TaskBoard(_Live, w.VBox):
    """A live table of submitted tasks: state, progress, worker, elapsed time, result."""

    def __init__(self, cluster, max_rows: int = MAX_ROWS, interval: float = BOARD_INTERVAL, feed: _Feed | None = None):
        self.cluster = cluster
        self.max_rows = max_rows
        self.interval = interval
        self._rows: dict[str, dict] = {}  # task id -> row, oldest first
        self._join(feed, cluster, "board")
        self._status_text = _("no tasks yet")
        self.summary = w.HTML()
        self.table = w.HTML()
        super().__init__([self.summary, self.table])
        if feed is None:
            self._feed.start()
        self._render()

    @property
    def rows(self) -> list[dict]:
        """Copies of the rows, newest first (what the table shows)."""
        with self._lock:
            return [dict(row) for row in reversed(self._rows.values())]

    def row(self, task_id: str) -> dict:
        """A copy of one task's row."""
        with self._lock:
            return dict(self._rows[task_id])

    @property
    def updating(self) -> bool:
        """True while the board watches tasks that have not finished (its feed polls for them)."""
        return self._feed.alive and bool(self._wanted())

    def track(self, task_ids: str | list[str], task: str, args: dict) -> None:
        """Add submitted tasks (one id or a list) to the board and make sure they are watched."""
        now = time.time()
        with self._lock:
            for task_id in [task_ids] if isinstance(task_ids, str) else task_ids:
                self._rows[task_id] = {
                    "id": task_id,
                    "task": task,
                    "args": dict(args),
                    "state": "PENDING",
                    "progress": None,
                    "worker": None,
                    "result": None,
                    "error": None,
                    "note": "",
                    "submitted": now,
                    "finished": None,
                }
            self._trim()
            self._status_text = "updating…"
            self._render()
        self._feed.start()  # an older board used again takes over, never two

    def _trim(self) -> None:
        """Drop the oldest rows beyond max_rows, finished ones first."""
        while len(self._rows) > self.max_rows:
            done = [i for i, r in self._rows.items() if r["state"] in FINAL_STATES]
            del self._rows[done[0] if done else next(iter(self._rows))]

    def refresh(self) -> bool:
        """Poll the cluster once (for every part of its dashboard); True if tasks are still in flight."""
        self._feed.refresh()
        return bool(self._wanted())

    def _wanted(self) -> list[str]:
        with self._lock:
            return [i for i, r in self._rows.items() if r["state"] not in FINAL_STATES]

    def _delay(self, reading: Reading) -> float | None:
        return self.interval if self._wanted() else None

    def _apply(self, reading: Reading) -> None:
        """Show one reading (under the feed's lock)."""
        for task_id in self._wanted():
            if task_id in reading.statuses:
                self._update(reading.statuses[task_id])
        left = len(self._wanted())
        self._status_text = reading.problem or (_("updating…") if left else _("idle: all tasks finished"))
        self._render()

    def _update(self, answer: dict) -> None:
        row = self._rows.get(answer["task_id"])
        if row is None:  # trimmed meanwhile
            return
        row["state"] = answer["state"]
        row["progress"] = answer.get("progress")
        row["worker"] = answer.get("worker") or row["worker"]
        row["result"] = answer.get("result")
        row["error"] = answer.get("error")
        if row["state"] in FINAL_STATES and row["finished"] is None:
            result = row["result"] if isinstance(row["result"], dict) else {}
            row["finished"] = result.get("finished") or time.time()
        # the reading says when a running task's worker is gone: its state is stale
        gone = answer.get("worker_alive") is False
        row["note"] = _("worker gone: the task returns to the queue after the visibility timeout") if gone else ""
        if row["state"] == "UNKNOWN":
            row["note"] = _("the cluster no longer knows this task (restarted, or its result expired)")

    def _render(self) -> None:
        with self._lock:
            rows = list(reversed(self._rows.values()))
            counts: dict[str, int] = {}
            for row in rows:
                counts[row["state"]] = counts.get(row["state"], 0) + 1
            tally = ", ".join(f"{n} {state}" for state, n in counts.items())
            status = self._feed.stopped or self._status_text
            tasks = _("Tasks")
            summary = f"<b>{tasks}</b> ({len(rows)}{': ' + tally if tally else ''}) — "
            summary += _message(status, "#757575")
            now = self._feed.last.at if self._feed.stopped and self._feed.last else time.time()
            table = _table(
                [_("task id"), _("task"), _("state"), _("progress"), _("worker"), _("elapsed"), _("result")],
                [self._cells(row, now) for row in rows],
                _("Submit a task to see it here."),
            )
            # An unchanged value sends nothing: the kernel gets a message only on a change.
            self.summary.value = summary
            self.table.value = self._stopped_html(table)

    @staticmethod
    def _cells(row: dict, now: float) -> list[str]:
        state = row["state"]
        color = STATE_COLORS.get(state, "#333")
        state_html = f'<b style="color:{color}">{html.escape(state)}</b>'
        if row["note"]:
            gone = _("worker gone")
            state_html += f' <span style="color:#c62828" title="{html.escape(row["note"])}">⚠ {gone}</span>'
        progress = row["progress"] or {}
        bar = _progress_bar(progress.get("current") or 0, progress.get("total") or 1) if state == "PROGRESS" else ""
        args = ", ".join(f"{k}={v}" for k, v in row["args"].items())
        end = row["finished"] or now
        return [
            f'<span title="{html.escape(row["id"])}">{_short(row["id"])}</span>',
            html.escape(f"{row['task']}({args})"),
            state_html,
            bar,
            html.escape(_node_short(row["worker"])),
            f"{max(0.0, end - row['submitted']):.1f} s",
            html.escape(_result_text(row)),
        ]


# ------------------------------------------------------------------ the launcher
class TaskLauncher(w.VBox):
    """Choose a task and its argument, submit one or many; shows new ids or the API's error."""

    def __init__(self, cluster, board: TaskBoard | None = None, many: int = 20):
        self.cluster = cluster
        self.board = board
        self.last_ids: list[str] = []
        self._listeners = []
        settings = cluster.settings
        self.task = w.Dropdown(
            options=[(_("long_task (x seconds of work)"), "long_task"), (_("factorial (n!)"), "factorial")],
            value="long_task",
            description=_("task"),
        )
        # Plain text boxes, not bounded ones: a bounded box would silently clamp
        # 25 to 20; the limits are shown, and the API judges and explains.
        self.x = w.FloatText(value=2.0, description="x", step=0.5)
        self.n = w.IntText(value=20, description="n")
        self.hint = w.HTML()
        self._limits = {
            "long_task": _("x: seconds of simulated work, from 0 to {limit:g}").format(limit=settings.longtask_max_x),
            "factorial": _("n: an integer from 0 to {limit}").format(limit=settings.factorial_max_n),
        }
        # No icon= on any button: ipywidgets 8 draws it as a Font Awesome <i> whose glyph (a
        # private-use character) lands in the button's accessible name ("\uf04b Submit"), so a
        # screen reader reads junk and get_by_role("button", name="Submit") finds nothing.
        self.submit_button = w.Button(
            description=_("Submit"), button_style="primary", tooltip=_("submit the task once")
        )
        self.count = w.BoundedIntText(
            value=many, min=1, max=MAX_ROWS, description=_("how many"), layout=w.Layout(width="160px")
        )
        self.submit_many_button = w.Button(
            description=_("Submit {count}").format(count=self.count.value),
            tooltip=_("submit the task 'how many' times at once"),
        )
        self.status = w.HTML()
        self.task.observe(self._on_task, names="value")
        self.count.observe(self._on_count, names="value")
        self.submit_button.on_click(lambda _button: self.submit(1))
        self.submit_many_button.on_click(lambda _button: self.submit(self.count.value))
        super().__init__(
            [
                w.HTML("<b>" + _("Submit tasks") + "</b>"),
                self.task,
                w.HBox([self.x, self.n]),
                self.hint,
                w.HBox([self.submit_button]),
                w.HBox([self.count, self.submit_many_button]),
                self.status,
            ]
        )
        self._on_task()

    def on_submit(self, callback) -> None:
        """Call callback(ids) after each successful submit."""
        self._listeners.append(callback)

    def _on_task(self, _change=None) -> None:
        long_task = self.task.value == "long_task"
        self.x.layout.display = None if long_task else "none"
        self.n.layout.display = "none" if long_task else None
        self.hint.value = _message(self._limits[self.task.value], "#757575")

    def _on_count(self, change) -> None:
        self.submit_many_button.description = _("Submit {count}").format(count=change["new"])

    def submit(self, count: int = 1) -> list[str]:
        """Submit the chosen task count times; return the new ids (empty if the API refused)."""
        task = self.task.value
        x = self.x.value
        x = int(x) if float(x).is_integer() else x  # send and show {"x": 8}, as the class does, not 8.0
        args = {"x": x} if task == "long_task" else {"n": self.n.value}
        client = self.cluster.client
        if client is None:
            self.status.value = _message(_("the cluster is not running: start it first"), "#c62828")
            return []
        send = client.submit_longtask if task == "long_task" else client.submit_factorial
        ids: list[str] = []
        error = None
        for _attempt in range(count):
            try:
                ids.append(send(*args.values()))
            except ApiError as exc:
                error = exc
                break
        if self.board is not None and ids:
            self.board.track(ids, task, args)
        self.last_ids = ids
        call = f"{task}({', '.join(f'{k}={v}' for k, v in args.items())})"
        text = ""
        if ids:
            listed = ", ".join(_short(i) for i in ids) if len(ids) > 1 else ids[0]
            text = _message(
                _("submitted {count} × {call}: {ids}").format(count=len(ids), call=call, ids=listed), "#2e7d32"
            )
        if error is not None:
            text += "<br>" if text else ""
            text += _message(
                _("refused ({status}): {error}").format(status=error.status or _("no answer"), error=error), "#c62828"
            )
        self.status.value = text
        if ids:
            for callback in self._listeners:
                callback(ids)
        return ids


# ------------------------------------------------------------------ the workers
PANEL_WIDTH = "540px"  # fixed: the panel must not jump sideways as its text changes
# the table's columns, in characters of its monospace font; the current task takes the rest
PANEL_COLUMNS = (("worker", 12), ("pid", 8), ("state", 15), ("done", 6), ("current task", None))


def _panel_titles() -> list[str]:
    """The workers table's column titles in the reader's language (PANEL_COLUMNS keeps the English)."""
    return [_("worker"), _("pid"), _("state"), _("done"), _("current task")]


def _fixed_table(rows: list[list[str]], titles: list[list[str]], empty: str) -> str:
    """The workers table with fixed column widths; a cell too long ends in … (its title shows all)."""
    if not rows:
        return f'<div style="color:#757575;padding:4px 0">{html.escape(empty)}</div>'
    cell = "padding:2px 8px 2px 0;text-align:left;white-space:nowrap;overflow:hidden;text-overflow:ellipsis"
    cols = "".join(f'<col style="width:{width}ch">' if width else "<col>" for _name, width in PANEL_COLUMNS)
    head = "".join(f'<th style="{cell};border-bottom:1px solid #bbb">{name}</th>' for name in _panel_titles())
    body = "".join(
        "<tr>"
        + "".join(f'<td style="{cell}" title="{html.escape(title)}">{c}</td>' for c, title in zip(row, row_titles))
        + "</tr>"
        for row, row_titles in zip(rows, titles)
    )
    return (
        '<table style="border-collapse:collapse;font-family:monospace;font-size:12px;'
        f'width:100%;table-layout:fixed"><colgroup>{cols}</colgroup><tr>{head}</tr>{body}</table>'
    )


class WorkerPanel(_Live, w.VBox):
    """Live workers and queue depth, with controls to scale the pool and kill a worker."""

    def __init__(
        self,
        cluster,
        interval: float = PANEL_INTERVAL,
        idle_interval: float = PANEL_IDLE_INTERVAL,
        feed: _Feed | None = None,
    ):
        self.cluster = cluster
        self.interval = interval
        self.idle_interval = idle_interval
        self.workers: list[dict] = []
        self.other_apps: list[dict] = []
        self.queued: int | None = None
        self._join(feed, cluster, "panel")
        self._status_text = ""
        self.summary = w.HTML()
        self.table = w.HTML()
        start = len(getattr(cluster, "workers", {}) or {})
        limit = getattr(getattr(cluster, "settings", None), "max_workers", MAX_SCALE)
        # A number box, not an IntSlider: ipywidgets' slider (noUiSlider) gives its handle
        # role=slider and no accessible name, and no option sets one; the box's <label for>
        # names it "workers", and arrow keys step it as they would a slider. No icons (see
        # TaskLauncher).
        self.size = w.BoundedIntText(
            value=start,
            min=0,
            max=max(min(MAX_SCALE, limit), start),
            description=_("workers"),
            layout=w.Layout(width="150px"),
        )
        self._shown_count = start  # the worker count the box last showed
        self.scale_button = w.Button(
            description=_("Scale"), tooltip=_("start or stop workers until there are that many")
        )
        self.kill_button = w.Button(
            description=_("Kill a worker"), button_style="danger", tooltip=_("SIGKILL a busy worker (or any)")
        )
        self.action = w.HTML()
        self.scale_button.on_click(lambda _button: self.scale(self.size.value))
        self.kill_button.on_click(lambda _button: self.kill())
        super().__init__(
            [
                w.HTML("<b>" + _("Workers") + "</b>"),
                self.summary,
                self.table,
                w.HBox([self.size, self.scale_button, self.kill_button]),
                self.action,
            ],
            layout=w.Layout(width=PANEL_WIDTH, min_width=PANEL_WIDTH, max_width=PANEL_WIDTH),
        )
        self.add_class("labapp-worker-panel")  # for a browser test that measures it
        self._feed.refresh()
        self._feed.start()

    def refresh(self) -> bool:
        """Poll the cluster once (for every part of its dashboard); True if it is busy."""
        self._feed.refresh()
        last = self._feed.last
        return bool(last and last.busy)

    def wake(self, *_args) -> None:
        """Poll soon (e.g. right after a submit) instead of at the next idle tick."""
        if _running(self.cluster):
            self._feed.start()

    def _delay(self, reading: Reading) -> float | None:
        if not _running(self.cluster):
            return None
        return self.interval if reading.busy else self.idle_interval

    def _apply(self, reading: Reading) -> None:
        """Show one reading (under the feed's lock)."""
        self.workers, self.queued, self._status_text = reading.workers, reading.queued, reading.problem
        self.other_apps = reading.other_apps
        self._render()
        self._follow_cluster_size()

    def _render(self) -> None:
        with self._lock:
            last = self._feed.last
            now = last.at if last else time.time()  # "silent for" as of the reading, not the render
            rows, titles = [], []
            for worker in self.workers:
                active = worker.get("active") or []
                silent = now - worker.get("updated", now)
                if silent > SILENT_AFTER:
                    silent_for = _("silent for {seconds:.0f} s").format(seconds=silent)
                    state = f'<span style="color:#c62828">{silent_for}</span>'
                elif active:
                    busy = _("busy")
                    state = f'<b style="color:{STATE_COLORS["PROGRESS"]}">{busy}</b>'
                else:
                    idle = _("idle")
                    state = f'<span style="color:#757575">{idle}</span>'
                current = ", ".join(f"{t.get('name')} {_short(t.get('id', ''))}" for t in active)
                done = str(worker.get("processed", 0))
                rows.append(
                    [html.escape(worker["name"]), str(worker.get("pid", "")), state, done, html.escape(current)]
                )
                titles.append([worker["name"], str(worker.get("pid", "")), "", done, current])
            for worker in self.other_apps:  # not the lab's: no heartbeat, no pid, their tasks never run here
                # what it knows, not what it runs: the lab does not follow another app's tasks
                knows = _("knows {tasks}").format(tasks=", ".join(worker.get("tasks") or []) or _("no task"))
                mark = '<span style="color:#6a1b9a">{}</span>'.format(html.escape(_("another app's")))
                known = '<span style="color:#757575">{}</span>'.format(html.escape(knows))
                rows.append([html.escape(worker["name"]), "", mark, "", known])
                titles.append([worker["name"], "", _("another app's worker (labapp env)"), "", knows])
            queued = "?" if self.queued is None else self.queued
            summary = _("{live} live · <b>{queued}</b> queued in Redis (waiting for a worker)").format(
                live=len(self.workers), queued=queued
            )
            if self.other_apps:  # their queue is in database 1: not counted above
                summary += " · " + _("{count} of another app (its queue apart)").format(count=len(self.other_apps))
            status = self._feed.stopped or self._status_text
            if status:
                summary += " — " + _message(status, "#757575")
            self.summary.value = summary
            self.table.value = self._stopped_html(
                _fixed_table(rows, titles, _("No live worker: queued tasks wait until one starts."))
            )

    def _follow_cluster_size(self) -> None:
        """Move the workers box when the cluster's size changed elsewhere (a bench, scale() in a cell),
        never while the student is choosing a new value."""
        count = len(self.cluster.workers)
        if count != self._shown_count and self.size.value == self._shown_count:
            self.size.max = max(self.size.max, count)
            self.size.value = count
        self._shown_count = count

    def _busy(self, doing: str) -> None:
        self.scale_button.disabled = self.kill_button.disabled = self.size.disabled = True
        self.action.value = _message(doing, "#ef6c00")

    def _done(self, text: str, color: str = "#2e7d32") -> None:
        self.refresh()  # first: when the message shows, panel and board show the change already
        self.scale_button.disabled = self.kill_button.disabled = self.size.disabled = False
        self.action.value = _message(text, color)
        self.wake()

    def scale(self, workers: int) -> None:
        """Start or stop worker processes until there are ``workers`` (from the main thread)."""
        # Process operations go to the Cluster, on the caller's (the kernel's
        # main) thread: children die with the thread that started them.
        have = len(self.cluster.workers)
        if workers > have:
            self._busy(
                ngettext(
                    "scaling up to {workers}: starting {more} worker(s)…",
                    "scaling up to {workers}: starting {more} worker(s)…",
                    workers - have,
                ).format(workers=workers, more=workers - have)
            )
        elif workers < have:
            self._busy(_("scaling down to {workers}: busy workers finish their task first…").format(workers=workers))
        try:
            self.cluster.scale(workers)
        except Exception as exc:
            self.size.value = self._shown_count = len(self.cluster.workers)  # show what runs
            self._done(_("scale failed: {error}").format(error=exc), "#c62828")
            return
        self.size.value = self._shown_count = len(self.cluster.workers)
        self._done(
            ngettext(
                "now {count} worker process(es)", "now {count} worker process(es)", len(self.cluster.workers)
            ).format(count=len(self.cluster.workers))
        )

    def kill(self) -> str | None:
        """SIGKILL one worker (a busy one if any), for the failure lesson; return its name."""
        self._busy(_("killing a worker…"))
        try:
            name = self.cluster.kill_worker()
        except Exception as exc:
            self._done(_("kill failed: {error}").format(error=exc), "#c62828")
            return None
        self.size.value = self._shown_count = len(self.cluster.workers)
        timeout = self.cluster.settings.visibility_timeout
        self._done(
            _(
                "killed {name} (SIGKILL). Its unfinished task goes back to the queue after "
                "the visibility timeout ({timeout}\u00a0s) and another worker runs it."
            ).format(name=name, timeout=timeout),
            "#c62828",
        )
        return name


# ------------------------------------------------------------------ all together
class Dashboard(_Fed, w.VBox):
    """Launcher, task board and worker panel of one cluster: ``Dashboard(cluster)`` in a cell.

    Board and panel show the same reading of the cluster: one poll feeds both.
    """

    def __init__(self, cluster, many: int = 20):
        self.cluster = cluster
        self._feed = _Feed(cluster, "dashboard")
        self.board = TaskBoard(cluster, feed=self._feed)
        self.launcher = TaskLauncher(cluster, board=self.board, many=many)
        self.panel = WorkerPanel(cluster, feed=self._feed)
        self.launcher.on_submit(self.panel.wake)
        self.launcher.layout.width = "440px"
        self.launcher.layout.margin = "0 24px 0 0"
        super().__init__([w.HBox([self.launcher, self.panel]), self.board])

    def snapshot(self) -> dict:
        """What board and panel show now, taken together: rows, workers, queued, when read, stopped."""
        with self._feed.lock:
            return {
                "rows": self.board.rows,
                "workers": [dict(w) for w in self.panel.workers],
                "queued": self.panel.queued,
                "workers_box": self.panel.size.value,
                "seen_at": self.board.seen_at,
                "stopped": self._feed.stopped,
            }

    def __repr__(self) -> str:
        # what a notebook shows where the widget cannot be drawn (a saved notebook not yet run)
        return _("Dashboard (run the cell to see the live dashboard)")

    def stop(self) -> None:
        """Stop live updates; board and panel keep the last reading, marked as stopped."""
        self._feed.stop()

    def close(self) -> None:
        """Stop live updates and close the widgets."""
        self.stop()
        for part in (self.board, self.panel, self.launcher):
            w.VBox.close(part)
        super().close()
