"""`labapp url`, `status` and `down` with clusters of several project folders running: each command
means this folder's cluster first, and never stops another folder's without --name or --all."""

import os
import signal
import subprocess
import sys

import pytest

from tests.support.sandbox import stop_leftovers
from tests.support.waiting import read_until


@pytest.fixture
def folders(tmp_path):
    """Two project folders, a/ below class/ and b/ beside it, plus an unrelated one, and an environment
    where each cluster lives in its own folder's .labapp/ and the registry is this test's own."""
    made = {name: tmp_path / name for name in ("class/a", "b", "elsewhere")}
    for folder in made.values():
        folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "LABAPP_RUNTIME_DIR"}
    env["LABAPP_REGISTRY_DIR"] = str(tmp_path / "registry")  # --all reaches no other test's cluster
    yield made, env
    subprocess.run(
        [sys.executable, "-m", "labapp", "down", "--all"], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    left = stop_leftovers(tmp_path)
    assert not left, left


def labapp_in(folder, env, *args) -> subprocess.CompletedProcess:
    """Run `labapp ARGS` in folder."""
    return subprocess.run(
        [sys.executable, "-m", "labapp", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60
    )


class Up:
    """`labapp up --workers 0` running in a folder, as a user starts it in a terminal there."""

    def __init__(self, folder, env, name):
        self.folder, self.name = folder, name
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labapp", "up", "--workers", "0", "--name", name],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def ready(self) -> "Up":
        read_until(self.proc, r"(Press Ctrl-C)", f"`labapp up --name {self.name}` to be ready")
        return self

    @property
    def secret_url(self) -> str:
        return (self.folder / ".labapp" / self.name / "broker.url").read_text().splitlines()[0]

    def end(self, sig=signal.SIGINT) -> str:
        """Stop it (Ctrl-C by default); what it printed after ready."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.communicate()[0]


def test_url_status_and_down_mean_this_folders_cluster(folders):
    made, env = folders
    a, b, elsewhere = made["class/a"], made["b"], made["elsewhere"]
    ups = [Up(a, env, "default"), Up(b, env, "lesson02")]
    try:
        first, second = (up.ready() for up in ups)

        # url: each folder's own; from a parent of a only, a's; from anywhere else, only by name
        for folder, up in ((a, first), (b, second), (a.parent, first)):
            got = labapp_in(folder, env, "url", "--secret")
            assert got.returncode == 0 and got.stdout.strip() == up.secret_url, (folder, got.stderr)
        for folder in (elsewhere, a.parent.parent):  # both elsewhere; both below
            refused = labapp_in(folder, env, "url", "--secret")
            assert refused.returncode == 1 and refused.stdout == "", refused.stdout
            assert "default (" in refused.stderr and "lesson02 (" in refused.stderr and "--name" in refused.stderr
        assert labapp_in(elsewhere, env, "url", "--secret", "--name", "lesson02").stdout.strip() == second.secret_url

        # status: which folder each belongs to, this folder's first
        listed = labapp_in(a, env, "status").stdout.splitlines()
        heads = [line for line in listed if not line.startswith(" ")]
        assert heads[0].startswith("default in .labapp/default (this folder's;"), listed
        assert heads[1].startswith(f"lesson02 in {b}/.labapp/lesson02 (another folder's: {b};"), listed
        named = labapp_in(a, env, "status", "--name", "lesson02").stdout.splitlines()
        assert [line for line in named if not line.startswith(" ")] == [heads[1]], named
        assert labapp_in(a, env, "status", "--name", "nope").stdout.strip() == "no cluster named nope is running"

        # a second cluster in a: there, only --name says which
        extra = Up(a, env, "extra").ready()
        try:
            refused = labapp_in(a, env, "url", "--secret")
            assert refused.returncode == 1 and "default (this folder's), extra (this folder's)" in refused.stderr
            assert labapp_in(a, env, "url", "--secret", "--name", "extra").stdout.strip() == extra.secret_url
            assert labapp_in(b, env, "url", "--secret").stdout.strip() == second.secret_url
        finally:
            extra.end()

        # down: a's cluster is in use, b's is another folder's: both stay
        down = labapp_in(a, env, "down")
        assert down.returncode == 0 and "stopped" not in down.stdout, down.stdout
        assert "default in .labapp/default (this folder's): still in use" in down.stdout
        assert "lesson02" in down.stdout and "left alone" in down.stdout
        # b's owner dies (its cluster with it): a's `labapp down` still leaves b's entry to b
        second.end(signal.SIGKILL)
        assert "left alone" in labapp_in(a, env, "down").stdout
        assert "lesson02 in " in labapp_in(a, env, "status").stdout
        # named, from b: a's cluster stops, even in use
        named = labapp_in(b, env, "down", "--name", "default")
        assert named.returncode == 0 and f"default in {a}/.labapp/default (another folder's" in named.stdout
        assert "stopped broker" in named.stdout
        assert first.proc.wait(timeout=30) == 1  # its `labapp up` saw its cluster go
        down = labapp_in(b, env, "down")
        assert "lesson02 in .labapp/lesson02 (this folder's): stopped" in down.stdout, down.stdout
        assert labapp_in(elsewhere, env, "status").stdout.strip() == "no cluster is running"
    finally:
        for up in ups:
            up.end()


@pytest.mark.parametrize("command", ["url", "down"])
def test_a_name_no_cluster_has_is_refused(folders, command):
    made, env = folders
    done = labapp_in(made["b"], env, command, "--name", "nothere")
    assert done.returncode == 1 and "no running cluster named 'nothere'" in done.stderr, done.stderr
