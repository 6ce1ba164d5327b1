"""Take docs/dashboard.png: the widget dashboard mid-run in a real JupyterLab.

Run from the repo: ``make screenshot`` (``.venv/bin/python -m tests.support.screenshot``). It starts
JupyterLab headless on 127.0.0.1 in a temporary folder, writes a small
notebook (start a cluster, show a Dashboard, submit tasks, a stop cell), runs
it in Debian's Chromium driven by Playwright, waits until the board shows
PROGRESS rows, saves the PNG, runs the stop cell and stops everything,
leaving no process behind. Needs ``apt-get install chromium`` (never
``playwright install``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from labapp.engine import processes
from labapp.engine.broker import free_port
from tests.support import paths

REPO = paths.ROOT
OUTPUT = REPO / "docs" / "dashboard.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CELLS = [
    "from labapp import Cluster\n"
    "from labapp.widgets import Dashboard\n\n"
    "cluster = Cluster(workers=3).start()\n"
    "dash = Dashboard(cluster)\n"
    "dash",
    "# Like a student: two factorials, then 8 long tasks at once.\n"
    "dash.launcher.task.value = 'factorial'\n"
    "for n in (20, 20000):\n"
    "    dash.launcher.n.value = n\n"
    "    dash.launcher.submit_button.click()\n"
    "dash.launcher.task.value = 'long_task'\n"
    "dash.launcher.x.value = 8\n"
    "dash.launcher.count.value = 8\n"
    "dash.launcher.submit_many_button.click()",
    "cluster.stop()  # the stop cell\nprint('stopped')",
]


def write_notebook(folder: Path) -> Path:
    """The demo notebook, with the repo's kernel (this Python)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "dashboard.ipynb"
    nbformat.write(nb, path)
    return path


def write_settings(folder: Path) -> Path:
    """User settings that keep JupyterLab quiet: no news, no update check."""
    settings = folder / "user-settings"
    target = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return settings


def start_lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    """JupyterLab on 127.0.0.1:port serving folder; its log goes to folder/lab.log."""
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("LABAPP_RUNTIME_DIR", "labapp"),
        ("LABAPP_REGISTRY_DIR", "registry"),
    ]:
        env[var] = str(folder / sub)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    args = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--notebook-dir={folder}",
        f"--LabApp.user_settings_dir={write_settings(folder)}",
        f"--LabApp.workspaces_dir={folder / 'workspaces'}",
    ]
    log = open(folder / "lab.log", "wb")
    return subprocess.Popen(args, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def api(port: int, token: str, path: str, method: str = "GET"):
    """Call the Jupyter server's REST API."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def wait_for_lab(lab: subprocess.Popen, port: int, token: str, timeout: float = 60) -> None:
    """Return when the server answers; fail if it exits first."""

    def answers() -> bool:
        if lab.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {lab.returncode}")
        try:
            return api(port, token, "/api/status") is not None
        except OSError:
            return False

    processes.wait_until(answers, timeout, interval=0.3, what="JupyterLab to answer")


def take_screenshot(port: int, token: str, folder: Path) -> None:
    """Open the notebook, run the cells, screenshot the board mid-run, run the stop cell."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            drive(page, port, token)
        except Exception:
            page.screenshot(path=str(folder / "failure.png"))  # what the page showed
            raise
        finally:
            browser.close()


def drive(page, port: int, token: str) -> None:
    """Run the notebook in the page like a student, taking the screenshot mid-run."""
    page.goto(f"http://127.0.0.1:{port}/lab/tree/dashboard.ipynb?token={token}")
    wait_for_kernel(port, token)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
    page.keyboard.press("Control+b")  # hide the file browser: more room for the board
    cells = page.locator(".jp-Notebook .jp-Cell")
    run_cell(page, cells.nth(0), page.get_by_text("queued in Redis"))  # cluster + dashboard
    run_cell(page, cells.nth(1), page.locator("td", has_text="PENDING").first)  # submit tasks
    page.locator("td", has_text="PROGRESS").first.wait_for(timeout=60_000)
    page.locator("td", has_text="SUCCESS").nth(1).wait_for(timeout=60_000)
    time.sleep(3)  # let the progress bars move on a little
    cells.nth(0).scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT))
    run_cell(page, cells.nth(2), page.get_by_text("stopped", exact=True))  # the stop cell


def wait_for_kernel(port: int, token: str, timeout: float = 60) -> None:
    """Wait until the page's kernel is the only one, idle and connected.

    JupyterLab may start a second kernel while it opens a notebook and shut
    the first one down; a cell run in that moment is lost.
    """

    def settled() -> bool:
        kernels = api(port, token, "/api/kernels")
        return len(kernels) == 1 and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] > 0

    processes.wait_until(settled, timeout, interval=0.5, what="the notebook's kernel to settle")


def run_cell(page, cell, expect, tries: int = 3) -> None:
    """Run one cell (Shift+Enter) until what it shows appears; retry a run that got lost."""
    for attempt in range(tries):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            expect.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def stop_lab(lab: subprocess.Popen, port: int, token: str) -> None:
    """Shut down the kernels (their atexit stops any cluster), then the server; SIGKILL last."""
    try:
        for kernel in api(port, token, "/api/kernels"):
            api(port, token, f"/api/kernels/{kernel['id']}", method="DELETE")
    except OSError:
        pass
    lab.send_signal(signal.SIGTERM)
    try:
        lab.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(lab.pid, signal.SIGKILL)
        lab.wait()


def main() -> int:
    """Make the screenshot; return a process exit code."""
    folder = Path(tempfile.mkdtemp(prefix="labapp-screenshot-"))
    write_notebook(folder)
    port, token = free_port(), secrets.token_hex(16)
    keep = False
    lab = start_lab(folder, port, token)
    try:
        wait_for_lab(lab, port, token)
        take_screenshot(port, token, folder)
        print(f"wrote {OUTPUT}")
    except Exception:
        print(f"failed; logs and failure.png in {folder}", file=sys.stderr)
        keep = True
        raise
    finally:
        stop_lab(lab, port, token)
        left = processes.processes_marked(folder)  # what this run started (JupyterLab, kernel, cluster)
        for proc in left:
            print(f"left behind, killing: {proc.pid} {' '.join(proc.cmdline())}", file=sys.stderr)
            proc.kill()
        if not (left or keep):
            shutil.rmtree(folder, ignore_errors=True)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
