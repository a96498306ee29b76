"""A real Jupyter kernel (``jupyter_client``, kernel ``python3``) that tests run code in.

Imported as ``from support.kernel import real_kernel``. ``jupyter_client`` is
imported when a kernel is started (a test without it is skipped there), so
that importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest


class Kernel:
    """A started kernel and its client: ``run`` a cell, ``restart`` the kernel."""

    def __init__(self, manager, client):
        self.manager = manager
        self.client = client

    def run(self, code: str) -> str:
        """Execute ``code`` as a cell; its stream output (stdout and stderr).

        A cell that raises fails the test with the kernel's traceback.
        """
        out: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = self.client.execute_interactive(code, timeout=120, output_hook=hook)
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)

    def restart(self) -> None:
        """Kill the kernel process at once and wait until the new one is ready."""
        self.manager.restart_kernel(now=True)
        self.client.wait_for_ready(timeout=60)


@contextlib.contextmanager
def real_kernel(cwd: Path) -> Iterator[Kernel]:
    """A new ``python3`` kernel started in ``cwd``, ready; shut down (at once) on exit."""
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield Kernel(manager, client)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
