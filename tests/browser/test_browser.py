"""Lesson 02 in a real JupyterLab, in Debian's headless Chromium driven by Playwright, as a student.

`labapp lab` serves a copy of notebooks/ (the test never writes the tracked lessons); the test
runs the lesson, then uses the dashboard by role and accessible name only (what a screen reader
reads): Submit, the workers box and Scale, Kill a worker. Screenshots go to tests/output/browser/
(ignored by git); the JupyterLab log too. Needs /usr/bin/chromium (`make browser`); never
`playwright install`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from labapp.engine import processes
from labapp.engine.broker import free_port
from tests.support import paths
from tests.support.sandbox import TEST_SETTINGS
from tests.support.screenshot import CHROMIUM, CHROMIUM_ARGS
from tests.support.screenshot import api as _api  # the screenshot script's call to Jupyter's REST API
from tests.support.waiting import wait_for

REPO = paths.ROOT
SHOTS = REPO / "tests" / "output" / "browser"
LESSON = "02_dashboard.ipynb"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

pytestmark = pytest.mark.timeout(420)


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI never skips the browser test)")
    pytest.skip(message)


class Lab:
    """`labapp lab` on a copy of the lessons, in a folder of its own, on a free port with a token."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.root = folder / "project"
        shutil.copytree(REPO / "notebooks", self.root / "notebooks")
        self.port, self.token = free_port(), secrets.token_hex(16)
        env = {
            k: v for k, v in os.environ.items() if k not in {f"LABAPP_{key.upper()}" for key in TEST_SETTINGS}
        }  # a student's defaults
        for var, sub in [
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
            ("IPYTHONDIR", "ipython"),
            ("LABAPP_RUNTIME_DIR", "runtime"),
        ]:
            env[var] = str(folder / sub)
        labapp = Path(sys.executable).parent / "labapp"  # the console script a student runs
        # No user settings here: what JupyterLab shows is what `labapp lab`'s overrides make it.
        command = [
            str(labapp),
            "lab",
            "--root",
            str(self.root),
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.user_settings_dir={folder / 'user-settings'}",
            f"--LabApp.workspaces_dir={folder / 'workspaces'}",
        ]
        self.log_path = folder / "lab.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def api(self, path: str, method: str = "GET"):
        """The server's REST API."""
        return _api(self.port, self.token, path, method)

    def wait_ready(self) -> None:
        """Return when the server answers; fail if it exits first."""

        def answers() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"JupyterLab exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            try:
                return self.api("/api/status") is not None
            except OSError:
                return False

        wait_for(answers, 60, interval=0.3, what="JupyterLab to answer")

    def url(self, path: str) -> str:
        """A page of this lab, logged in with the token."""
        return f"http://127.0.0.1:{self.port}{path}?reset&token={self.token}"

    def stop(self) -> None:
        """SIGTERM the server (it shuts its kernels down); SIGKILL its group if it hangs."""
        # SIGTERM to the leader only (it stops cleanly), then SIGKILL to its group if it hangs
        processes.stop_children([self.proc], timeout=20, whole_group=False)


def _browser_tree(folder: Path) -> set[int]:
    """Pids of the Chromium whose profile is in folder, and of its children."""
    pids = set()
    for proc in processes.processes_marked(folder):
        try:
            if any(a.startswith("--user-data-dir=") for a in proc.cmdline()) and proc.name().startswith("chrom"):
                pids.add(proc.pid)
                pids.update(child.pid for child in proc.children(recursive=True))
        except psutil.Error:
            pass
    return pids


def _describe(processes) -> str:
    lines = []
    for proc in processes:
        try:
            lines.append(f"{proc.pid} {' '.join(proc.cmdline())[:200]}")
        except psutil.Error:
            pass
    return "\n".join(lines)


@pytest.fixture
def shots():
    """tests/output/browser/, emptied: the screenshots of the last run stay there to look at."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


def test_lesson_02_in_jupyterlab_by_role_and_name(tmp_path, shots):
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    lab = Lab(tmp_path)
    try:
        lab.wait_ready()
        with sync_playwright() as p:
            # the profile in tmp_path marks the browser's processes as this test's
            context = p.chromium.launch_persistent_context(
                str(tmp_path / "chromium"),
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1400, "height": 1100},
            )
            page = context.pages[0] if context.pages else context.new_page()
            try:
                _drive(page, lab, tmp_path, shots, expect)
            except Exception:
                page.screenshot(path=str(shots / "failure.png"))
                raise
            finally:
                context.close()
    finally:
        lab.stop()
        shutil.copy(lab.log_path, shots / "lab.log")
    left = []
    try:
        processes.wait_until(lambda: not processes.processes_marked(tmp_path), 15, interval=0.3)
    except processes.WaitTimeout:
        left = processes.processes_marked(tmp_path)
        for proc in left:
            proc.kill()
    assert not left, "left behind (killed now):\n" + _describe(left)
    print(f"browser test: {time.monotonic() - started:.0f} s; screenshots in {shots}")


def _drive(page, lab: Lab, folder: Path, shots: Path, expect) -> None:
    page.goto(lab.url(f"/lab/tree/notebooks/{LESSON}"))
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    cells = notebook.locator(".jp-Notebook .jp-Cell")
    cells.first.wait_for(timeout=60_000)
    _wait_kernel(lab)

    # Run every cell above the stop cell (the stop cell would stop the cluster the dashboard drives).
    stop_cell = cells.last
    expect(stop_cell).to_contain_text("cluster.stop()")
    stop_cell.locator(".jp-InputArea-editor").click()
    expect(notebook.locator(".jp-Cell.jp-mod-active")).to_contain_text("cluster.stop()")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Above Selected Cell$")).click()
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
    expect(prompts.filter(has_text="[*]").first).to_be_visible(timeout=30_000)
    # A click is handled only once the running cells are done: wait for them all (~40 s).
    expect(prompts.filter(has_text="[*]")).to_have_count(0, timeout=180_000)
    expect(notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)
    expect(notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1)
    assert processes.processes_marked(folder / "runtime" / "lesson02"), "the lesson's cluster is not running"

    # `labapp lab`'s setting overrides (no user settings here): no news question pops up
    notification = lab.api("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    fetch_news = notification["schema"]["properties"]["fetchNews"]  # overrides replace defaults
    assert fetch_news["default"] == "false", fetch_news  # JupyterLab's own: "none" (ask)
    assert page.get_by_text(re.compile("Jupyter news", re.I)).count() == 0

    submit = page.get_by_role("button", name="Submit", exact=True)
    submit.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "01_after_run_all.png"))
    panel = page.locator(".labapp-worker-panel")
    widths = {"idle": _width(panel)}

    # 1. one task from the launcher, followed on the board until SUCCESS
    x = page.get_by_role("spinbutton", name="x", exact=True)
    x.fill("2")
    x.press("Tab")
    submit.click()
    task_id = _submitted_id(page, expect)
    row = _board_row(page, task_id)
    expect(row).to_contain_text("SUCCESS", timeout=30_000)
    assert "long_task(x=2)" in row.inner_text()
    page.screenshot(path=str(shots / "02_submitted_success.png"))

    # 2. scale from the panel: the workers box, then Scale
    workers = page.get_by_role("spinbutton", name="workers", exact=True)
    workers.fill("3")
    workers.press("Tab")
    page.get_by_role("button", name="Scale", exact=True).click()
    expect(page.get_by_text("now 3 worker process(es)")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"^3 live"))).to_be_visible(timeout=15_000)
    expect(workers).to_have_value("3")
    page.screenshot(path=str(shots / "03_scaled_to_3.png"))

    # 3. kill the busy worker; its task comes back (visibility timeout, 10 s in lesson 02) and ends.
    # x=8, the lesson's largest: the task must still run when the click reaches the kernel, which a
    # loaded CI machine delays by seconds (with x=5 the task had ended and an idle worker was killed)
    x.fill("8")
    x.press("Tab")
    submit.click()
    task_id = _submitted_id(page, expect, not_id=task_id)
    row = _board_row(page, task_id)
    expect(row).to_contain_text("PROGRESS", timeout=30_000)
    victim = _cell(row, 4)
    assert re.fullmatch(r"w\d+", victim), victim
    # one reading feeds board and panel: the row says PROGRESS, so the panel lists the task
    assert task_id[:8] in panel.inner_text(), panel.inner_text()
    widths["busy"] = _width(panel)
    page.get_by_role("button", name="Kill a worker", exact=True).click()
    expect(page.get_by_text(f"killed {victim} (SIGKILL)")).to_be_visible(timeout=15_000)
    # the message comes after the reading that shows the kill: panel and board agree at once
    assert re.match(r"2 live", panel.get_by_text(re.compile(r"^\d+ live")).inner_text())
    assert victim not in [_cell(r, 0).split("@")[0] for r in panel.locator("tr").all()[1:]]
    assert "worker gone" in row.inner_text()
    widths["after the kill"] = _width(panel)
    page.screenshot(path=str(shots / "04_killed_worker_gone.png"))
    expect(row).to_contain_text("SUCCESS", timeout=60_000)
    rerun_by = _cell(row, 4)
    assert rerun_by != victim and re.fullmatch(r"w\d+", rerun_by), (victim, rerun_by)
    expect(page.get_by_text(re.compile(r"^2 live"))).to_be_visible(timeout=15_000)
    page.screenshot(path=str(shots / "05_task_came_back.png"))
    widths["after"] = _width(panel)
    assert len(set(widths.values())) == 1, f"the Workers panel changed width: {widths}"

    # 4. shut the kernel down from the menu: its cluster goes with it
    assert processes.processes_marked(folder / "runtime" / "lesson02"), "no cluster process found to watch"
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Shut Down Kernel")).click()
    wait_for(lambda: lab.api("/api/kernels") == [], 30, interval=0.3, what="the kernel to shut down")
    expect(page.get_by_text("No Kernel").first).to_be_visible(timeout=15_000)
    page.screenshot(path=str(shots / "06_kernel_shut_down.png"))

    def only_lab_and_browser():
        keep = {lab.proc.pid} | _browser_tree(folder)
        return not [p for p in processes.processes_marked(folder) if p.pid not in keep]

    try:
        processes.wait_until(only_lab_and_browser, 15, interval=0.3)
    except processes.WaitTimeout:
        keep = {lab.proc.pid} | _browser_tree(folder)
        left = [p for p in processes.processes_marked(folder) if p.pid not in keep]
        pytest.fail("still running after the kernel was shut down:\n" + _describe(left))


def _wait_kernel(lab: Lab, timeout: float = 60) -> None:
    """Until the page's kernel is the only one, idle and connected (JupyterLab may start a second
    one while it opens a notebook and shut the first down; a cell run then is lost)."""

    def settled() -> bool:
        try:
            kernels = lab.api("/api/kernels")
        except urllib.error.HTTPError as exc:
            if exc.code == 500:  # jupyter_server lists a kernel still starting: KeyError 'last_activity'
                return False
            raise
        return len(kernels) == 1 and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] > 0

    wait_for(settled, timeout, interval=0.5, what="the notebook's kernel to settle")


def _submitted_id(page, expect, not_id: str | None = None) -> str:
    """The task id the launcher's status line shows after a submit."""
    status = page.get_by_text(re.compile(r"^submitted 1 × long_task"))
    if not_id:
        status = status.filter(has_not_text=not_id)
    expect(status).to_be_visible(timeout=15_000)
    found = UUID.search(status.inner_text())
    assert found, status.inner_text()
    return found.group(0)


def _board_row(page, task_id: str):
    """The task board's row of one task (its first cell carries the full id as a title)."""
    row = page.locator("tr", has=page.locator(f'span[title="{task_id}"]'))
    row.wait_for(timeout=15_000)
    return row


def _width(locator) -> float:
    """The on-screen width of an element, in CSS pixels."""
    return round(locator.bounding_box()["width"], 1)


def _cell(row, index: int) -> str:
    return row.locator("td").nth(index).inner_text().strip()
