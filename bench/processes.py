"""The benchmarks' server processes: a free loopback port to start one on, and stopping them all."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_servers(processes: list[subprocess.Popen], timeout_s: float = 30.0) -> None:
    """SIGTERM every process, wait up to ``timeout_s`` for each, then SIGKILL the ones still running."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
