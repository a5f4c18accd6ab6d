"""Several dashboard processes on one port: the parent binds the socket once and supervises forked children.

``serve_forked`` is what ``attendance serve --workers N`` runs on PostgreSQL. The parent binds the listening
socket, forks N children and then only supervises: each child builds its own app (its own database engine
and background thread, made after the fork) and runs waitress on the inherited socket, so the kernel hands
each new connection to whichever child is free. A child that dies is started again (a child that keeps
dying within seconds of its start stops the whole server, with its exit status); SIGTERM or SIGINT to the
parent stops every child gracefully (waitress finishes the requests it has), then the parent exits 0.
Needs ``os.fork`` (Linux, macOS); Windows runs one process per service instead.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from attendance.backoff import backoff_delay_s

logger = logging.getLogger(__name__)

STOP_GRACE_S = 10.0  # how long children get to finish their requests after SIGTERM, before SIGKILL
QUICK_EXIT_S = 10.0  # a child that exits sooner than this after its start "failed to start"
MAX_QUICK_EXITS = 5  # ... and this many such exits in a row stop the server
SUPERVISE_TICK_S = 0.2


def bind_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when the host has a colon), inherited by the children."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.set_inheritable(True)
    return sock


@dataclass
class Supervisor:
    """Keeps ``workers`` children running ``run_child(sock)`` until asked to stop."""

    sock: socket.socket
    workers: int
    run_child: Callable[[socket.socket], Any]
    children: dict[int, float] = field(default_factory=dict)  # pid -> monotonic start time
    stopping: bool = False
    quick_exits: int = 0

    def start_child(self) -> int:
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            os._exit(_child_main(self.sock, self.run_child))
        self.children[pid] = time.monotonic()
        return pid

    def request_stop(self, signum: int, frame: object) -> None:  # a signal handler
        self.stopping = True

    def _sleep_unless_stopping(self, seconds: float) -> None:
        """Wait ``seconds``, cut short by SIGTERM/SIGINT (a stop during a crash loop does not wait it out)."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(SUPERVISE_TICK_S, deadline - time.monotonic()))

    def run(self) -> int:
        """Start the children and supervise them until SIGTERM/SIGINT; the exit status (0 after a stop)."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for _ in range(self.workers):
                self.start_child()
            status = self._supervise()
            self._stop_children()
            return status
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _supervise(self) -> int:
        while not self.stopping:
            pid, wait_status = _reap_one()
            if pid == 0 or pid not in self.children:
                time.sleep(SUPERVISE_TICK_S)
                continue
            lived_s = time.monotonic() - self.children.pop(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            self.quick_exits = self.quick_exits + 1 if lived_s < QUICK_EXIT_S else 0
            if self.quick_exits >= MAX_QUICK_EXITS:
                print(f"attendance: dashboard processes keep failing at start (last exit status {code}): "
                      "stopping", file=sys.stderr)
                return 1
            logger.warning("dashboard process %s ended (exit status %s) after %.0f s: starting another",
                           pid, code, lived_s)
            if self.quick_exits:  # back off while children fail at start (1 s, 2 s, 4 s... up to 30 s)
                self._sleep_unless_stopping(backoff_delay_s(self.quick_exits, base_s=1.0, max_s=30.0))
            if not self.stopping:
                self.start_child()
        return 0

    def _stop_children(self) -> None:
        for pid in self.children:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self.children and time.monotonic() < deadline:
            pid, _ = _reap_one()
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in self.children:
            logger.warning("dashboard process %s did not stop in %.0f s: killing it", pid, STOP_GRACE_S)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.children.clear()


def _reap_one() -> tuple[int, int]:
    """(pid, wait status) of a child that ended, or (0, 0) when none has (or there is none)."""
    try:
        return os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return 0, 0


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _child_main(sock: socket.socket, run_child: Callable[[socket.socket], Any]) -> int:
    """A child's life: its own signal handlers (SIGTERM ends waitress's loop gracefully), then the server."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        run_child(sock)
    except SystemExit as exit_request:
        return exit_request.code if isinstance(exit_request.code, int) else 0
    except BaseException:  # the parent reads the status and starts another
        logger.exception("dashboard process %s failed", os.getpid())
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


def serve_forked(sock: socket.socket, workers: int, run_child: Callable[[socket.socket], Any]) -> int:
    """Run ``workers`` forked children, each calling ``run_child(sock)`` (build the app, serve on ``sock``),
    until SIGTERM/SIGINT; the exit status."""
    if not hasattr(os, "fork"):
        raise OSError("several dashboard processes need os.fork (Linux, macOS)")
    return Supervisor(sock=sock, workers=workers, run_child=run_child).run()
