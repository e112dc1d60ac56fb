"""The production server as the README starts it (gunicorn with ``assistant.web.gunicorn_conf``):
a sync worker that has answered a request takes the next one without waiting for the last
client to close its connection."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
HEALTH = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[int]:
    """gunicorn with the production settings and a single sync worker; its port."""
    url = f"sqlite:///{tmp_path / 'ptt.db'}"
    upgrade(url)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-secret", "PTT_SWEEPER": "0", "COOKIE_SECURE": "0",
           "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:assistant.web.gunicorn_conf",
         "assistant.web:create_app()", "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:] if server.stderr else ""
            try:
                answer, client = _ask(port)
                client.close()
                if answer.startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(15)


def _ask(port: int, *, timeout: float = 5.0) -> tuple[bytes, socket.socket]:
    """Send a health check and read the answer up to the server's end of the connection; the
    answer and the client's socket, still open."""
    client = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    client.sendall(HEALTH)
    received = b""
    while chunk := client.recv(4096):
        received += chunk
    return received, client


def test_the_worker_answers_the_next_request_while_the_last_client_still_holds_its_connection(
    one_worker: int,
) -> None:
    first, held_open = _ask(one_worker)
    try:
        assert first.startswith(b"HTTP/1.1 200")
        # gunicorn's own close would hold the only worker for two seconds, waiting for that
        # client to close; this request would then time out.
        second, client = _ask(one_worker, timeout=1.5)
        client.close()
        assert second.startswith(b"HTTP/1.1 200")
    finally:
        held_open.close()
