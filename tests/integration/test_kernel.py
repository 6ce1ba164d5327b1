"""The engine inside a real Jupyter kernel, the way the lessons use it."""

import psutil

from tests.support.kernel_cells import WIDGET_VIEW, run_cell
from tests.support.waiting import wait_for


def errors_of(messages: list[dict]) -> list[str]:
    return ["\n".join(m["content"]["traceback"]) for m in messages if m["msg_type"] == "error"]


def test_bench_in_a_notebook_shows_a_progress_widget_not_text(kernel):
    _, client = kernel
    messages = run_cell(
        client,
        """
        from labapp import Cluster
        from labapp.bench import run_scaling
        with Cluster(workers=1, name="kernel-bench") as cluster:
            records = run_scaling(cluster, [1, 2], kind="sleep", tasks=6, duration_ms=20)
        print("points:", len(records))
    """,
    )
    assert not errors_of(messages), errors_of(messages)
    shown = [m for m in messages if m["msg_type"] == "display_data" and WIDGET_VIEW in m["content"]["data"]]
    assert shown, "run_scaling showed no widget in the notebook"
    states = [m["content"]["data"]["state"] for m in messages if m["msg_type"] == "comm_msg"]
    assert any(state.get("value") == 12 for state in states)  # 2 points x 6 tasks, all counted
    assert any(state.get("bar_style") == "success" for state in states)
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert "points: 2" in text
    assert "task/s]" not in text and "\r" not in text  # no tqdm bar garbling the cell's output


def test_interrupting_a_cell_spares_the_cluster_and_shutdown_stops_it(kernel):
    manager, client = kernel
    messages = run_cell(
        client,
        """
        from labapp import Cluster
        cluster = Cluster(workers=1, name="kernel-owned").start()
        pids = [row["pid"] for row in cluster.status()]
        print(pids)
    """,
    )
    assert not errors_of(messages), errors_of(messages)
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    pids = [int(p) for p in text.strip().strip("[]").split(",")]
    assert len(pids) == 3  # broker, API, one worker

    # "Interrupt kernel" during a long cell: the cell stops, the cluster keeps running.
    # stop_on_error=False: ipykernel 7 ends its abort of queued cells after an error asynchronously, so under load a
    # cell sent right after the KeyboardInterrupt's reply could come back "aborted", with no output at all
    msg_id = client.execute("import time; print('sleeping', flush=True); time.sleep(60)", stop_on_error=False)
    # wait for the cell's own output: "busy" comes before the kernel arms its SIGINT handler
    wait_for(lambda: _printed(client, msg_id, "sleeping"), 10, what="the cell to run")
    manager.interrupt_kernel()
    reply = client.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:  # replies to the earlier cells first
        reply = client.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    after = run_cell(client, "print(cluster.running, len(cluster.client.workers()))")
    shown = "".join(m["content"].get("text", "") for m in after if m["msg_type"] == "stream")
    assert "True 1" in shown, (shown, errors_of(after), [m["msg_type"] for m in after])
    assert all(psutil.pid_exists(pid) for pid in pids)

    # Shutting the kernel down (as JupyterLab does on exit) leaves nothing running.
    client.stop_channels()
    manager.shutdown_kernel(now=False)
    assert wait_for(lambda: not any(_alive(pid) for pid in pids), 15, what="the cluster to stop with its kernel")


def _printed(client, msg_id, text: str) -> bool:
    msg = client.get_iopub_msg(timeout=10)
    return (
        msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream" and text in msg["content"]["text"]
    )


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_dashboard_updates_reach_the_front_end_while_another_cell_runs(kernel):
    _, client = kernel
    messages = run_cell(
        client,
        """
        from labapp import Cluster
        from labapp.widgets import Dashboard
        cluster = Cluster(workers=1, name="kernel-dash").start()
        dash = Dashboard(cluster)
        display(dash)
        dash.launcher.x.value = 1
        dash.launcher.submit_button.click()
    """,
    )
    assert not errors_of(messages), errors_of(messages)
    # A student runs another cell meanwhile; the kernel's main thread (and its event loop) is busy.
    busy_cell = client.execute("import time; time.sleep(6)")
    success_while_busy, streams = False, []
    while True:
        msg = client.get_iopub_msg(timeout=30)
        if msg["msg_type"] == "stream":
            streams.append(msg["content"]["text"])
        if msg["msg_type"] == "comm_msg":
            value = msg["content"]["data"].get("state", {}).get("value")
            if isinstance(value, str) and "long_task(x=1)" in value and "SUCCESS" in value:
                success_while_busy = True
        if (
            msg["parent_header"].get("msg_id") == busy_cell
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    assert success_while_busy, "the board did not update while another cell was running"
    assert not streams, streams  # background work never prints into whatever cell runs
    done = run_cell(client, "dash.close(); cluster.stop(); print('stopped')")
    assert not errors_of(done), errors_of(done)
