"""`labapp lab --lang pt-BR`: a real JupyterLab on the Portuguese lessons, its menus in Portuguese, and the
pt-BR kernel speaking Portuguese (LABAPP_LANG) where the English kernel does not."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

from labapp.engine.broker import free_port
from tests.support import paths
from tests.support.terminal import start_in_terminal
from tests.support.waiting import read_until, wait_for

TWIN = "notebooks/pt-BR/00_setup.ipynb"


def _language_of(port: int, token: str, kernel_name: str, tmp_path) -> str:
    """LABAPP_LANG as a new kernel of that name sees it, through the server's own kernels API."""
    import requests
    from jupyter_client import BlockingKernelClient

    api = f"http://127.0.0.1:{port}/api/kernels"
    kernel = requests.post(api, params={"token": token}, json={"name": kernel_name}, timeout=60).json()
    client = BlockingKernelClient(connection_file=str(tmp_path / "jupyter-runtime" / f"kernel-{kernel['id']}.json"))
    wait_for(lambda: os.path.exists(client.connection_file), what="the kernel's connection file")
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)  # iopub subscribed first: an output sent before that is lost (slow joiner)
    shown: list[str] = []
    try:
        reply = client.execute_interactive(
            "import os\nprint(os.environ.get('LABAPP_LANG', 'unset'))",
            timeout=120,
            output_hook=lambda msg: shown.append(msg["content"].get("text", "")),
        )
    finally:
        client.stop_channels()
        requests.delete(f"{api}/{kernel['id']}", params={"token": token}, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(shown).strip()


def test_lab_in_portuguese_opens_the_pt_br_lessons_with_portuguese_menus_and_kernel(tmp_path):
    import requests

    (tmp_path / "notebooks" / "pt-BR").mkdir(parents=True)
    shutil.copy(paths.ROOT / TWIN, tmp_path / TWIN)
    port, token = free_port(), "s18-lab-language"
    env = {k: v for k, v in os.environ.items() if k not in ("LABAPP_RUNTIME_DIR", "LABAPP_LANG")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"), DISPLAY="", WAYLAND_DISPLAY="")
    command = [sys.executable, "-m", "labapp", "lab", "--lang", "pt-BR", "--root", str(tmp_path)]
    command += [f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    lab, terminal = start_in_terminal(command, env)
    started: list[str] = []
    try:
        opened = read_until(
            lab, rf"http://127\.0\.0\.1:{port}(/lab\S*)\?token", "`labapp lab` to print its URL", lines=started
        )
        assert opened == f"/lab/tree/{TWIN}", "lesson 00 in Portuguese is the page that opens"
        settings = requests.get(
            f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/translation-extension:plugin",
            params={"token": token},
            timeout=30,
        ).json()
        assert settings["settings"]["locale"] == "pt_BR", "JupyterLab's menus in Portuguese"
        # the server translates the settings' schemas (menus, titles) only for a locale in the user's settings;
        # the pack (4.5.post3) has "Language" (not yet "File"), so that title shows it
        assert settings["schema"]["title"] == "Idioma", settings["schema"]["title"]
        packs = requests.get(f"http://127.0.0.1:{port}/lab/api/translations", params={"token": token}, timeout=30)
        assert "pt_BR" in packs.json()["data"], "the pt-BR language pack is installed"
        assert _language_of(port, token, "python3-pt-br", tmp_path) == "pt_BR"
        assert _language_of(port, token, "python3", tmp_path) == "unset", "the server itself stays English"
    finally:
        os.killpg(lab.pid, signal.SIGINT)
        try:
            lab.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
        finally:
            os.close(terminal)
    assert (tmp_path / ".labapp" / "jupyterlab-pt-BR").is_dir(), "the locale setting lives in the project's .labapp/"
