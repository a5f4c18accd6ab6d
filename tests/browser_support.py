"""What the browser tests share: the system Chromium (never one a test tool downloads) and the dashboard under
waitress on a free loopback port, in a thread."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PASSWORD = "correct horse battery"


def chromium_path() -> str:
    """The system Chromium; a skip when it is missing, a failure under CI."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium") or ""
    if not path:
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def launch_chromium(playwright):
    """A headless Chromium browser from a started ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


@contextmanager
def serve_dashboard(app) -> Iterator[str]:
    """Serve ``app`` under waitress on a free loopback port while the block runs; yields its base URL."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4, ident="attendance-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)
