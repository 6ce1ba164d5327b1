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
import threading
import time
import weakref

import ipywidgets as w

from .client import ApiError

FINAL_STATES = ("SUCCESS", "FAILURE", "REVOKED", "UNKNOWN")
# UNKNOWN: the API answers 404, the cluster no longer knows the id (restarted, or the result expired)
STATE_COLORS = {"PENDING": "#757575", "STARTED": "#1565c0", "PROGRESS": "#1565c0",
                "SUCCESS": "#2e7d32", "FAILURE": "#c62828", "REVOKED": "#ef6c00"}
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
    body = "".join("<tr>" + "".join(f'<td style="{cell}">{c}</td>' for c in row) + "</tr>"
                   for row in rows)
    return (f'<table style="border-collapse:collapse;font-family:monospace;font-size:12px">'
            f"<tr>{head}</tr>{body}</table>")


def _progress_bar(current: int, total: int) -> str:
    total = max(1, total or 1)
    percent = max(0, min(100, round(100 * (current or 0) / total)))
    return ('<div style="display:inline-block;vertical-align:middle;width:90px;height:10px;'
            'background:#e0e0e0;border-radius:3px;overflow:hidden">'
            f'<div style="width:{percent}%;height:100%;background:#1e88e5"></div></div>'
            f" {current}/{total}")


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


class _Live:
    """A widget updated by a _Poller; one live instance per class and cluster.

    Re-running a cell stops the previous instance's thread.
    """

    _poller: _Poller

    def stop(self) -> None:
        """Stop live updates (the widget keeps showing its last state, and says it stopped)."""
        self._poller.stop()
        try:
            self.refresh()  # the last state shown is the real one, not the one of the last poll
        except Exception:  # the cluster may be gone already
            pass
        self._show_stopped()

    def _show_stopped(self) -> None:
        with self._lock:
            self._status_text = "updates stopped (a newer widget took over, or stop() was called)"
            self._render()

    def close(self) -> None:
        """Stop live updates and close the widget."""
        self.stop()
        super().close()

    _instances: "weakref.WeakValueDictionary[tuple, _Live]" = weakref.WeakValueDictionary()

    def _replace_previous(self, cluster) -> None:
        """Become the one live widget of this class for cluster (the one a student uses last)."""
        key = (type(self).__name__, id(cluster))
        previous = _Live._instances.get(key)
        if previous is not None and previous is not self:
            previous.stop()
        _Live._instances[key] = self


# ------------------------------------------------------------------ the board
class TaskBoard(_Live, w.VBox):
    """A live table of submitted tasks: state, progress, worker, elapsed time, result."""

    def __init__(self, cluster, max_rows: int = MAX_ROWS, interval: float = BOARD_INTERVAL):
        self.cluster = cluster
        self.max_rows = max_rows
        self.interval = interval
        self._rows: dict[str, dict] = {}  # task id -> row, oldest first
        self._lock = threading.RLock()
        self._status_text = "no tasks yet"
        self.summary = w.HTML()
        self.table = w.HTML()
        super().__init__([self.summary, self.table])
        self._poller = _Poller(self._poll, "board")
        self._replace_previous(cluster)
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
        """True while the board's thread polls for changes."""
        return self._poller.alive

    def track(self, task_ids: str | list[str], task: str, args: dict) -> None:
        """Add submitted tasks (one id or a list) to the board and make sure they are watched."""
        now = time.time()
        with self._lock:
            for task_id in [task_ids] if isinstance(task_ids, str) else task_ids:
                self._rows[task_id] = {"id": task_id, "task": task, "args": dict(args),
                                       "state": "PENDING", "progress": None, "worker": None,
                                       "result": None, "error": None, "note": "",
                                       "submitted": now, "finished": None}
            self._trim()
            self._status_text = "updating…"
            self._render()
        self._replace_previous(self.cluster)  # an older board used again takes over, never two
        self._poller.start()

    def _trim(self) -> None:
        """Drop the oldest rows beyond max_rows, finished ones first."""
        while len(self._rows) > self.max_rows:
            done = [i for i, r in self._rows.items() if r["state"] in FINAL_STATES]
            del self._rows[done[0] if done else next(iter(self._rows))]

    def refresh(self) -> bool:
        """Poll the status of every unfinished task once; True if some are still in flight."""
        if not _running(self.cluster):
            self._set_status("updates stopped: the cluster is not running (last known states)")
            return False
        with self._lock:
            pending = [i for i, r in self._rows.items() if r["state"] not in FINAL_STATES]
        client = self.cluster.client
        answers, problem = [], ""
        for task_id in pending:  # HTTP outside the lock: a click never waits for a poll
            try:
                answers.append(client.status(task_id))
            except ApiError as exc:
                if exc.status == 404:  # it will never be known again: stop asking
                    answers.append({"task_id": task_id, "state": "UNKNOWN", "error": str(exc)})
                    continue
                problem = f"status of {_short(task_id)}: {exc}"
                if exc.status in (0, 503):  # API or broker unreachable: do not hammer it
                    break
        with self._lock:  # rows and table change together, so readers never see them differ
            for answer in answers:
                self._update(answer)
            left = sum(r["state"] not in FINAL_STATES for r in self._rows.values())
            self._status_text = problem or ("updating…" if left else "idle: all tasks finished")
            self._render()
        return left > 0

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
        # The API says when a running task's worker stopped beating: its state is stale.
        gone = answer.get("worker_alive") is False
        row["note"] = ("worker gone: the task returns to the queue after the visibility timeout"
                       if gone else "")
        if row["state"] == "UNKNOWN":
            row["note"] = "the cluster no longer knows this task (restarted, or its result expired)"

    def _poll(self) -> float | None:
        try:
            busy = self.refresh()
        except Exception as exc:  # never let the thread die silently
            self._set_status(f"update failed: {type(exc).__name__}: {exc}")
            return 5 * self.interval
        return self.interval if busy else None

    def _render(self) -> None:
        with self._lock:
            rows = list(reversed(self._rows.values()))
            counts: dict[str, int] = {}
            for row in rows:
                counts[row["state"]] = counts.get(row["state"], 0) + 1
            tally = ", ".join(f"{n} {state}" for state, n in counts.items())
            summary = f"<b>Tasks</b> ({len(rows)}{': ' + tally if tally else ''}) — "
            summary += _message(self._status_text, "#757575")
            table = _table(["task id", "task", "state", "progress", "worker", "elapsed",
                            "result"], [self._cells(row) for row in rows],
                           "Submit a task to see it here.")
            # An unchanged value sends nothing: the kernel gets a message only on a change.
            self.summary.value = summary
            self.table.value = table

    def _set_status(self, text: str) -> None:
        with self._lock:
            self._status_text = text
            self._render()

    @staticmethod
    def _cells(row: dict) -> list[str]:
        state = row["state"]
        color = STATE_COLORS.get(state, "#333")
        state_html = f'<b style="color:{color}">{html.escape(state)}</b>'
        if row["note"]:
            state_html += (f' <span style="color:#c62828" title="{html.escape(row["note"])}">'
                           "⚠ worker gone</span>")
        progress = row["progress"] or {}
        bar = _progress_bar(progress.get("current") or 0, progress.get("total") or 1) \
            if state == "PROGRESS" else ""
        args = ", ".join(f"{k}={v}" for k, v in row["args"].items())
        end = row["finished"] or time.time()
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
        self.task = w.Dropdown(options=[("long_task (x seconds of work)", "long_task"),
                                        ("factorial (n!)", "factorial")],
                               value="long_task", description="task")
        # Plain text boxes, not bounded ones: a bounded box would silently clamp
        # 25 to 20; the limits are shown, and the API judges and explains.
        self.x = w.FloatText(value=2.0, description="x", step=0.5)
        self.n = w.IntText(value=20, description="n")
        self.hint = w.HTML()
        self._limits = {
            "long_task": f"x: seconds of simulated work, from 0 to {settings.longtask_max_x:g}",
            "factorial": f"n: an integer from 0 to {settings.factorial_max_n}",
        }
        # No icon= on any button: ipywidgets 8 draws it as a Font Awesome <i> whose glyph (a
        # private-use character) lands in the button's accessible name ("\uf04b Submit"), so a
        # screen reader reads junk and get_by_role("button", name="Submit") finds nothing.
        self.submit_button = w.Button(description="Submit", button_style="primary",
                                      tooltip="submit the task once")
        self.count = w.BoundedIntText(value=many, min=1, max=MAX_ROWS, description="how many",
                                      layout=w.Layout(width="160px"))
        self.submit_many_button = w.Button(description=f"Submit {self.count.value}",
                                           tooltip="submit the task 'how many' times at once")
        self.status = w.HTML()
        self.task.observe(self._on_task, names="value")
        self.count.observe(self._on_count, names="value")
        self.submit_button.on_click(lambda _: self.submit(1))
        self.submit_many_button.on_click(lambda _: self.submit(self.count.value))
        super().__init__([
            w.HTML("<b>Submit tasks</b>"), self.task, w.HBox([self.x, self.n]), self.hint,
            w.HBox([self.submit_button]), w.HBox([self.count, self.submit_many_button]),
            self.status,
        ])
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
        self.submit_many_button.description = f"Submit {change['new']}"

    def submit(self, count: int = 1) -> list[str]:
        """Submit the chosen task count times; return the new ids (empty if the API refused)."""
        task = self.task.value
        x = self.x.value
        x = int(x) if float(x).is_integer() else x  # send and show {"x": 8}, as the class does, not 8.0
        args = {"x": x} if task == "long_task" else {"n": self.n.value}
        client = self.cluster.client
        if client is None:
            self.status.value = _message("the cluster is not running: start it first", "#c62828")
            return []
        send = client.submit_longtask if task == "long_task" else client.submit_factorial
        ids: list[str] = []
        error = None
        for _ in range(count):
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
            text = _message(f"submitted {len(ids)} × {call}: {listed}", "#2e7d32")
        if error is not None:
            text += "<br>" if text else ""
            text += _message(f"refused ({error.status or 'no answer'}): {error}", "#c62828")
        self.status.value = text
        if ids:
            for callback in self._listeners:
                callback(ids)
        return ids


# ------------------------------------------------------------------ the workers
class WorkerPanel(_Live, w.VBox):
    """Live workers and queue depth, with controls to scale the pool and kill a worker."""

    def __init__(self, cluster, interval: float = PANEL_INTERVAL,
                 idle_interval: float = PANEL_IDLE_INTERVAL):
        self.cluster = cluster
        self.interval = interval
        self.idle_interval = idle_interval
        self.workers: list[dict] = []
        self.queued: int | None = None
        self._lock = threading.RLock()
        self._status_text = ""
        self.summary = w.HTML()
        self.table = w.HTML()
        start = len(getattr(cluster, "workers", {}) or {})
        limit = getattr(getattr(cluster, "settings", None), "max_workers", MAX_SCALE)
        # A number box, not an IntSlider: ipywidgets' slider (noUiSlider) gives its handle
        # role=slider and no accessible name, and no option sets one; the box's <label for>
        # names it "workers", and arrow keys step it as they would a slider. No icons (see
        # TaskLauncher).
        self.size = w.BoundedIntText(value=start, min=0, max=max(min(MAX_SCALE, limit), start),
                                     description="workers", layout=w.Layout(width="150px"))
        self._shown_count = start  # the worker count the box last showed
        self.scale_button = w.Button(description="Scale",
                                     tooltip="start or stop workers until there are that many")
        self.kill_button = w.Button(description="Kill a worker", button_style="danger",
                                    tooltip="SIGKILL a busy worker (or any)")
        self.action = w.HTML()
        self.scale_button.on_click(lambda _: self.scale(self.size.value))
        self.kill_button.on_click(lambda _: self.kill())
        super().__init__([w.HTML("<b>Workers</b>"), self.summary, self.table,
                          w.HBox([self.size, self.scale_button, self.kill_button]), self.action])
        self._poller = _Poller(self._poll, "workers")
        self._replace_previous(cluster)
        self.refresh()
        self._poller.start()

    @property
    def updating(self) -> bool:
        """True while the panel's thread polls the API."""
        return self._poller.alive

    def refresh(self) -> bool:
        """Read workers and queue depth from the API once; True if the cluster is busy."""
        if not _running(self.cluster):
            with self._lock:
                self._status_text = "updates stopped: the cluster is not running"
                self.workers = []
                self._render()
            return False
        client = self.cluster.client
        try:
            workers = client.workers()
            queued = client.health().get("queued")
        except ApiError as exc:
            with self._lock:
                self._status_text = f"API: {exc}"
                self._render()
            return False
        with self._lock:
            self.workers, self.queued, self._status_text = workers, queued, ""
            self._render()
            self._follow_cluster_size()
        return bool(queued) or any(worker.get("active") for worker in workers)

    def wake(self, *_args) -> None:
        """Refresh soon (e.g. right after a submit) instead of at the next idle tick."""
        if _running(self.cluster):
            self._replace_previous(self.cluster)
            self._poller.start()

    def _poll(self) -> float | None:
        if not _running(self.cluster):
            self.refresh()
            return None
        try:
            busy = self.refresh()
        except Exception as exc:  # never let the thread die silently
            with self._lock:
                self._status_text = f"update failed: {type(exc).__name__}: {exc}"
                self._render()
            return self.idle_interval
        return self.interval if busy else self.idle_interval

    def _render(self) -> None:
        now = time.time()
        rows = []
        for worker in self.workers:
            active = worker.get("active") or []
            silent = now - worker.get("updated", now)
            if silent > SILENT_AFTER:
                state = f'<span style="color:#c62828">no heartbeat for {silent:.0f} s</span>'
            elif active:
                state = f'<b style="color:{STATE_COLORS["PROGRESS"]}">busy</b>'
            else:
                state = '<span style="color:#757575">idle</span>'
            current = ", ".join(f"{t.get('name')} {_short(t.get('id', ''))}" for t in active)
            done = worker.get("processed", 0)
            rows.append([html.escape(worker["name"]), str(worker.get("pid", "")), state,
                         str(done), html.escape(current)])
        queued = "?" if self.queued is None else self.queued
        summary = (f"{len(self.workers)} live · <b>{queued}</b> queued in Redis "
                   "(waiting for a worker)")
        if self._status_text:
            summary += " — " + _message(self._status_text, "#757575")
        self.summary.value = summary
        self.table.value = _table(["worker", "pid", "state", "tasks done", "current task"], rows,
                                  "No live worker: queued tasks wait until one starts.")

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
        self.scale_button.disabled = self.kill_button.disabled = self.size.disabled = False
        self.action.value = _message(text, color)
        self.refresh()
        self.wake()

    def scale(self, workers: int) -> None:
        """Start or stop worker processes until there are ``workers`` (from the main thread)."""
        # Process operations go to the Cluster, on the caller's (the kernel's
        # main) thread: children die with the thread that started them.
        have = len(self.cluster.workers)
        if workers > have:
            self._busy(f"scaling up to {workers}: starting {workers - have} worker(s)…")
        elif workers < have:
            self._busy(f"scaling down to {workers}: busy workers finish their task first…")
        try:
            self.cluster.scale(workers)
        except Exception as exc:
            self.size.value = self._shown_count = len(self.cluster.workers)  # show what runs
            self._done(f"scale failed: {exc}", "#c62828")
            return
        self.size.value = self._shown_count = len(self.cluster.workers)
        self._done(f"now {len(self.cluster.workers)} worker process(es)")

    def kill(self) -> str | None:
        """SIGKILL one worker (a busy one if any), for the failure lesson; return its name."""
        self._busy("killing a worker…")
        try:
            name = self.cluster.kill_worker()
        except Exception as exc:
            self._done(f"kill failed: {exc}", "#c62828")
            return None
        self.size.value = self._shown_count = len(self.cluster.workers)
        timeout = self.cluster.settings.visibility_timeout
        self._done(f"killed {name} (SIGKILL). Its unfinished task goes back to the queue after "
                   f"the visibility timeout ({timeout} s) and another worker runs it.", "#c62828")
        return name



# ------------------------------------------------------------------ all together
class Dashboard(w.VBox):
    """Launcher, task board and worker panel of one cluster: ``Dashboard(cluster)`` in a cell."""

    def __init__(self, cluster, many: int = 20):
        self.cluster = cluster
        self.board = TaskBoard(cluster)
        self.launcher = TaskLauncher(cluster, board=self.board, many=many)
        self.panel = WorkerPanel(cluster)
        self.launcher.on_submit(self.panel.wake)
        self.launcher.layout.width = "440px"
        self.launcher.layout.margin = "0 24px 0 0"
        super().__init__([w.HBox([self.launcher, self.panel]), self.board])

    @property
    def updating(self) -> bool:
        """True while any part still polls."""
        return self.board.updating or self.panel.updating

    def __repr__(self) -> str:
        # what a notebook shows where the widget cannot be drawn (a saved notebook not yet run)
        return "Dashboard (run the cell to see the live dashboard)"

    def stop(self) -> None:
        """Stop all live updates."""
        self.board.stop()
        self.panel.stop()

    def close(self) -> None:
        """Stop all live updates and close the widgets."""
        self.board.close()
        self.panel.close()
        self.launcher.close()
        super().close()
