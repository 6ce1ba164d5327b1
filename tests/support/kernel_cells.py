"""A real IPython kernel for a test, and cells run in it the way a notebook runs them."""

from __future__ import annotations

import textwrap

import pytest
from jupyter_client.manager import start_new_kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def kernel():
    """A real IPython kernel (the sandbox's LABAPP_* variables and test settings are inherited);
    shut down after."""
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=False)


def run_cell(client, code: str, timeout: float = 120) -> list[dict]:
    """Execute code in the kernel; return its iopub messages up to idle."""
    msg_id = client.execute(textwrap.dedent(code))
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
