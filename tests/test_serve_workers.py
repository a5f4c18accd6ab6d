"""``attendance serve --workers N``: N processes share one port, a dead one is replaced, SIGTERM stops them all.

Which process answered a connection is read from the kernel (``/proc``: the process holding the socket
whose peer is the test's client), so the product carries no test hook. A stopped child (SIGSTOP) accepts
nothing, which makes the other one answer the next connection.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import POSTGRES_URL, TEST_DATA_KEY

LINUX_PROC = Path("/proc/net/tcp").exists()


def test_several_workers_are_refused_on_sqlite(cli, tmp_path):
    status, out, err = cli("serve", "--workers", "2", "--db", f"sqlite:///{tmp_path / 'school.db'}")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "--workers 2 needs PostgreSQL" in err


def test_the_number_of_workers_is_bounded(cli):
    for bad in ("0", "-1", "two", "65"):
        with pytest.raises(SystemExit) as exit_info:
            cli("serve", "--workers", bad)
        assert exit_info.value.code == 2


def children_of(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def serving_pid(candidates: set[int], server_port: int, connection: http.client.HTTPConnection) -> int | None:
    """The process among ``candidates`` that holds the server side of ``connection``."""
    client_port = connection.sock.getsockname()[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, remote_port = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            if local_port == server_port and remote_port == client_port:
                inodes.add(f"socket:[{fields[9]}]")
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None


def get_login(port: int) -> http.client.HTTPConnection:
    """GET /login on a new keep-alive connection, left open; asserts a 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/login")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return connection


def wait_for_children(pid: int, count: int, timeout_s: float, not_in: set[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = children_of(pid)
        if len(children) == count and not children & not_in:
            return children
        time.sleep(0.1)
    raise AssertionError(f"expected {count} new children of {pid}, have {children_of(pid)}")


def answered_by_the_other(stopped: int, children: set[int], port: int) -> int:
    """Stop ``stopped``, make a new connection, return who answered it, and let ``stopped`` go on."""
    os.kill(stopped, signal.SIGSTOP)
    try:
        connection = get_login(port)
        pid = serving_pid(children, port, connection)
        connection.close()
    finally:
        os.kill(stopped, signal.SIGCONT)
    return pid


def stop_and_check_gone(server: subprocess.Popen, children: set[int]) -> None:
    """SIGTERM to the parent: it exits 0 and none of its processes is left."""
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL: ATTENDANCE_TEST_DATABASE_URL")
@pytest.mark.skipif(not LINUX_PROC, reason="reads who answered from Linux's /proc")
def test_two_workers_serve_one_port_and_stop_together(database_url, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, "ATTENDANCE_DATABASE_URL": database_url, "ATTENDANCE_DATA_KEY": TEST_DATA_KEY,
                   "ATTENDANCE_INSTANCE_PATH": str(tmp_path / "instance")}
    server = subprocess.Popen([sys.executable, "-m", "attendance.cli.main", "serve", "--workers", "2",
                               "--port", str(port)], env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        children = wait_for_children(server.pid, 2, 30)
        deadline = time.monotonic() + 30
        while True:  # both children build their app; the first to be ready answers
            try:
                first = get_login(port)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        one = serving_pid(children, port, first)
        assert one in children
        other = answered_by_the_other(one, children, port)
        assert other in children and other != one  # two processes answer on one port

        os.kill(other, signal.SIGKILL)  # a child dies: another takes its place and answers
        children = wait_for_children(server.pid, 2, 30, not_in={other})
        (replacement,) = children - {one}
        assert answered_by_the_other(one, children, port) == replacement
        first.close()

        stop_and_check_gone(server, children)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    output, errors = server.communicate()
    assert f"http://127.0.0.1:{port}/ in 2 processes" in output
    assert f"dashboard process {other} ended" in errors


SUPERVISED_APP = """
import os, sys
from waitress.server import create_server
from dashboard.prefork import bind_socket, serve_forked

def app(environ, start_response):  # the test's own app: answers with the PID that served it
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

sock = bind_socket("127.0.0.1", int(sys.argv[1]))
print("ready", flush=True)
sys.exit(serve_forked(sock, 2, lambda s: create_server(app, sockets=[s], threads=2).run()))
"""


def get_pid(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/")
    pid = int(connection.getresponse().read())
    connection.close()
    return pid


@pytest.mark.skipif(not hasattr(os, "fork") or not LINUX_PROC, reason="forks; reads children from /proc")
def test_the_supervisor_keeps_its_processes_and_stops_them(tmp_path):
    """``dashboard.prefork`` alone, on any database (none): N children answer, a dead one is replaced, SIGTERM
    stops all with status 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SUPERVISED_APP, str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        children = wait_for_children(server.pid, 2, 10)
        one = get_pid(port)
        assert one in children
        os.kill(one, signal.SIGSTOP)
        try:
            other = get_pid(port)
        finally:
            os.kill(one, signal.SIGCONT)
        assert other in children and other != one
        os.kill(other, signal.SIGTERM)  # a child that ends on its own is replaced too
        children = wait_for_children(server.pid, 2, 10, not_in={other})
        stop_and_check_gone(server, children)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert f"dashboard process {other} ended (exit status 0)" in server.communicate()[1]
