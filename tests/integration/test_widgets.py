"""The notebook widgets, driven headlessly (button.click(), set values) against a real cluster."""

from __future__ import annotations

import html
import math
import threading
import time

import pytest

from labapp.api.client import ApiError
from labapp.engine import heartbeat
from labapp.widgets import FINAL_STATES, PANEL_WIDTH, THREAD_PREFIX, Dashboard, TaskBoard, TaskLauncher
from tests.support.waiting import wait_for


def widget_threads() -> list[threading.Thread]:
    """The widgets' background threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.fixture
def dashboards():
    """Factory for dashboards that are always closed after the test."""
    made = []

    def make(cluster, **kwargs):
        made.append(Dashboard(cluster, **kwargs))
        return made[-1]

    yield make
    for dashboard in made:
        dashboard.close()
    assert not widget_threads()


def board_row(board: TaskBoard, task_id: str, *states: str):
    """A predicate: the board's row for task_id once it is in one of states."""

    def check():
        row = board.row(task_id)
        return row if row["state"] in states else None

    return check


def submit(launcher: TaskLauncher, task: str, value, button: str = "submit_button") -> list[str]:
    """Set the launcher's inputs and click one of its buttons, like a student."""
    launcher.task.value = task
    (launcher.x if task == "long_task" else launcher.n).value = value
    getattr(launcher, button).click()
    return launcher.last_ids


def test_submit_shows_progress_then_success_with_result(cluster, dashboards):
    dash = dashboards(cluster)
    [long_id] = submit(dash.launcher, "long_task", 2)
    assert long_id in dash.launcher.status.value
    assert "long_task(x=2)" in dash.launcher.status.value  # the class's {"x": 2}, not 2.0
    [fact_id] = submit(dash.launcher, "factorial", 30)
    [big_id] = submit(dash.launcher, "factorial", 5000)

    def progress_bar_shown():
        table = dash.board.table.value  # one snapshot: the row and its bar
        return "PROGRESS" in table and "/8</td>" in table  # x=2 runs in 8 steps

    wait_for(progress_bar_shown, what="a PROGRESS row with its bar")
    row = wait_for(board_row(dash.board, long_id, "SUCCESS"), what="long_task SUCCESS")
    assert row["result"]["x"] == 2 and row["worker"].startswith("w")

    row = wait_for(board_row(dash.board, fact_id, "SUCCESS"), what="factorial(30) SUCCESS")
    assert row["result"]["value"] == str(math.factorial(30))
    assert str(math.factorial(30)) in dash.board.table.value

    row = wait_for(board_row(dash.board, big_id, "SUCCESS"), what="factorial(5000) SUCCESS")
    assert row["result"]["digits"] == 16326
    table = dash.board.table.value
    assert "(16326 digits)" in table and row["result"]["value"] not in table  # truncated

    # Idle: every task finished, so the board stops polling by itself.
    wait_for(lambda: not dash.board.updating, what="the board to stop polling when idle")
    assert "SUCCESS" in dash.board.summary.value


def test_submit_many_puts_every_task_on_the_board(cluster, dashboards):
    dash = dashboards(cluster, many=6)
    ids = submit(dash.launcher, "long_task", 0.5, button="submit_many_button")
    assert len(set(ids)) == 6
    assert all(i[:8] in dash.launcher.status.value for i in ids)
    for task_id in ids:
        wait_for(board_row(dash.board, task_id, "SUCCESS"), what=f"{task_id} SUCCESS")
    assert {row["id"] for row in dash.board.rows} >= set(ids)


def test_board_keeps_a_bounded_number_of_rows(cluster):
    board = TaskBoard(cluster, max_rows=3)
    launcher = TaskLauncher(cluster, board=board)
    try:
        ids = submit(launcher, "factorial", 5, button="submit_many_button")
        assert len(ids) == 20 and len(board.rows) == 3
        assert [row["id"] for row in board.rows] == ids[::-1][:3]  # newest first
        for task_id in ids[-3:]:
            wait_for(board_row(board, task_id, "SUCCESS"), what=f"{task_id} SUCCESS")
    finally:
        board.close()
        launcher.close()


@pytest.mark.parametrize("task, value", [("long_task", 99), ("long_task", -1), ("factorial", 20001)])
def test_out_of_range_value_shows_the_api_error(cluster, dashboards, task, value):
    dash = dashboards(cluster)
    with pytest.raises(ApiError) as refused:  # what the API itself says
        if task == "long_task":
            cluster.client.submit_longtask(value)
        else:
            cluster.client.submit_factorial(value)
    assert submit(dash.launcher, task, value) == []
    assert html.escape(str(refused.value)) in dash.launcher.status.value
    assert "400" in dash.launcher.status.value
    assert dash.board.rows == []


def test_scale_via_the_panel(make_cluster, dashboards):
    cluster = make_cluster(workers=1).start()
    panel = dashboards(cluster).panel
    assert len(panel.workers) == 1

    shown = []
    panel.action.observe(lambda change: shown.append(change["new"]), names="value")
    panel.size.value = 2
    panel.scale_button.click()
    assert len(cluster.workers) == 2
    assert "scaling up to 2" in shown[0]  # shown while the click's handler waited
    wait_for(lambda: len(panel.workers) == 2, what="the panel to list 2 workers")
    assert "now 2" in panel.action.value and not panel.scale_button.disabled

    panel.size.value = 1
    panel.scale_button.click()
    wait_for(lambda: len(panel.workers) == 1, what="the panel to list 1 worker")


def test_kill_via_the_panel_and_the_task_completes_elsewhere(make_cluster, dashboards):
    cluster = make_cluster(workers=2).start()
    dash = dashboards(cluster)
    [task_id] = submit(dash.launcher, "long_task", 4)
    row = wait_for(board_row(dash.board, task_id, "PROGRESS"), what="the task to run")
    victim = row["worker"]
    # kill_worker() picks a busy worker from the heartbeats: wait until they show it busy.
    wait_for(
        lambda: any(w["name"] == victim and w["active"] for w in dash.panel.workers),
        what="the panel to show the busy worker",
    )

    killed = dash.panel.kill()
    assert killed == victim.split("@")[0] and killed not in cluster.workers  # the busy one went
    assert f"killed {killed}" in dash.panel.action.value
    assert f"({cluster.settings.visibility_timeout}\u00a0s)" in dash.panel.action.value  # never wraps as "(10" / "s)"
    wait_for(lambda: victim not in {w["name"] for w in dash.panel.workers}, what="the killed worker to leave the panel")
    # until the broker hands the task out again, the board says its worker is gone
    wait_for(
        lambda: dash.board.row(task_id)["note"].startswith("worker gone"),
        what="the board to flag the task whose worker died",
    )

    row = wait_for(board_row(dash.board, task_id, "SUCCESS"), timeout=40, what="the task to be redelivered and finish")
    assert row["worker"] != victim
    assert row["note"] == ""


def test_updates_stop_when_the_cluster_stops(make_cluster):
    cluster = make_cluster(workers=1).start()
    dash = Dashboard(cluster)
    try:
        submit(dash.launcher, "long_task", 3)
        assert dash.board.updating and dash.panel.updating
        cluster.stop()
        wait_for(lambda: not widget_threads(), what="the widget threads to end")
        assert "not running" in dash.board.summary.value
        assert "not running" in dash.panel.summary.value
    finally:
        dash.close()


def test_close_ends_the_threads_at_once(cluster):
    dash = Dashboard(cluster)
    submit(dash.launcher, "long_task", 2)
    assert widget_threads()
    dash.close()
    assert not widget_threads()


def test_a_task_the_cluster_no_longer_knows_ends_the_polling(cluster, dashboards):
    board = dashboards(cluster).board
    board.track("0" * 8 + "-0000-4000-8000-" + "0" * 12, "factorial", {"n": 5})  # never issued: 404
    row = wait_for(lambda: board.rows[0]["state"] == "UNKNOWN" and board.rows[0], what="an UNKNOWN row")
    assert "no longer knows this task" in row["note"]
    wait_for(lambda: not board.updating, what="the board to stop polling")


def test_the_submit_many_button_says_what_it_sends(cluster, dashboards):
    launcher = dashboards(cluster, many=500).launcher
    assert launcher.count.value == 50  # clamped to the board's 50 rows
    assert launcher.submit_many_button.description == "Submit 50"
    launcher.count.value = 7
    assert launcher.submit_many_button.description == "Submit 7"


def test_the_slider_follows_a_scale_done_elsewhere(make_cluster, dashboards):
    cluster = make_cluster(workers=1).start()
    panel = dashboards(cluster).panel
    cluster.scale(3)  # e.g. in another cell, or by a benchmark
    panel.wake()
    wait_for(lambda: panel.size.value == 3, what="the slider to show 3 workers")


def test_a_replaced_board_says_so_and_only_one_board_polls(cluster, dashboards):
    old = dashboards(cluster)
    new = dashboards(cluster)  # the student re-runs the cell
    assert "updates stopped" in old.board.summary.value
    [task_id] = submit(old.launcher, "long_task", 0.5)  # ...then clicks the old one anyway
    assert old.board.updating and not new.board.updating
    wait_for(board_row(old.board, task_id, "SUCCESS"), what="the old board to follow its task")


# ------------------------------------------------------------ board and panel tell one story
def disagreements(shown: dict, cluster) -> list[str]:
    """Where the panel and the board of one snapshot tell different stories (empty if they agree)."""
    rows = {row["id"]: row for row in shown["rows"]}
    live = {worker["name"]: worker for worker in shown["workers"]}
    found = []
    for name, worker in live.items():
        for task in worker.get("active") or []:
            row = rows.get(task["id"])
            if row is not None and row["state"] in FINAL_STATES:
                found.append(f"panel: {name} runs {task['id'][:8]}; board: it ended {row['state']}")
    for row in rows.values():
        if row["state"] in ("STARTED", "PROGRESS") and not row["note"]:
            current = {t["id"] for t in (live.get(row["worker"]) or {}).get("active") or []}
            if row["id"] not in current:
                found.append(
                    f"board: {row['id'][:8]} runs on {row['worker']}; panel: "
                    f"{'it does not list it' if row['worker'] in live else 'no such live worker'}"
                )
    ours = {cluster.node_name(name) for name in cluster.workers}
    if set(live) != ours:
        found.append(f"panel: {sorted(live)} live; the cluster runs {sorted(ours)}")
    if shown["workers_box"] != len(live):
        found.append(f"workers box: {shown['workers_box']}; panel: {len(live)} live")
    return found


def test_one_poll_feeds_board_and_panel(cluster, dashboards):
    dash = dashboards(cluster)
    submit(dash.launcher, "long_task", 1)
    assert [t.name for t in widget_threads()] == ["labapp-widgets-dashboard"]
    shown = dash.snapshot()
    assert dash.board.seen_at == dash.panel.seen_at == shown["seen_at"] is not None


def test_after_a_kill_panel_and_board_agree_from_the_first_poll(make_cluster, dashboards):
    cluster = make_cluster(workers=2).start()
    dash = dashboards(cluster, many=2)
    ids = submit(dash.launcher, "long_task", 4, button="submit_many_button")
    for task_id in ids:
        wait_for(board_row(dash.board, task_id, "PROGRESS"), what="both tasks to run")
    killed = dash.panel.kill()
    node = cluster.node_name(killed)
    assert heartbeat.is_alive(cluster.redis, node)  # its beat outlives it for up to heartbeat.TTL
    checks = 0
    while heartbeat.is_alive(cluster.redis, node):  # the window where the panel said "2 live"
        shown = dash.snapshot()
        assert disagreements(shown, cluster) == [], checks
        assert node not in {w["name"] for w in shown["workers"]}
        victim = [row for row in shown["rows"] if row["worker"] == node]
        assert victim and all(row["note"].startswith("worker gone") for row in victim)
        assert "1 live" in dash.panel.summary.value and dash.panel.size.value == 1
        checks += 1
        time.sleep(0.05)
    assert checks


def test_a_stopped_dashboard_shows_its_last_consistent_state(make_cluster, dashboards):
    cluster = make_cluster(workers=1).start()
    dash = dashboards(cluster, many=3)
    ids = submit(dash.launcher, "long_task", 0.5, button="submit_many_button")

    def all_done() -> bool:  # read as tightly as we can: the worker's last beat is still fresh
        dash.board.refresh()
        return all(dash.board.row(i)["state"] == "SUCCESS" for i in ids)

    wait_for(all_done, interval=0.01, what="the tasks to end")
    dash.stop()
    shown = dash.snapshot()
    assert shown["stopped"].startswith("updates stopped") and not widget_threads()
    assert disagreements(shown, cluster) == []
    [worker] = shown["workers"]
    assert worker["active"] == []  # idle: the board says every task ended
    for part in (dash.board, dash.panel):
        assert "updates stopped" in part.summary.value and "opacity" in part.table.value
    cluster.stop()
    assert dash.snapshot()["workers"] == shown["workers"]  # the last state stays, marked stopped
    assert "updates stopped" in dash.panel.summary.value


def test_the_panel_keeps_a_fixed_width(cluster, dashboards):
    panel = dashboards(cluster).panel
    assert panel.layout.width == panel.layout.min_width == panel.layout.max_width == PANEL_WIDTH
    assert PANEL_WIDTH.endswith("px")
    assert "table-layout:fixed" in panel.table.value and "<colgroup>" in panel.table.value


def test_the_panel_shows_another_apps_workers_marked_with_their_tasks(cluster, dashboards):
    from labapp.widgets import Reading

    dash = dashboards(cluster)
    other = {"name": "class1@host", "app": "another app's", "tasks": ["tasks.factorial", "tasks.long_task"]}
    dash.panel._apply(Reading(dash.panel.workers, 0, {}, other_apps=[other]))
    assert "class1@host" in dash.panel.table.value
    assert "another app&#x27;s" in dash.panel.table.value or "another app's" in dash.panel.table.value
    assert "knows tasks.factorial, tasks.long_task" in dash.panel.table.value  # known, not running
    assert "1 of another app (its queue apart)" in dash.panel.summary.value
