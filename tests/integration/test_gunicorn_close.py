"""A gunicorn worker closes a connection at once when the request was read whole, and keeps
gunicorn's drain-and-wait (RFC 9112 §9.6) for a connection with request data still unread: on
real TCP sockets on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from assistant.web import gunicorn_conf

REQUEST = b"POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
RESPONSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


@contextmanager
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(the client's end, the server's end) of a TCP connection on loopback."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _address = listener.accept()
        try:
            yield client, server
        finally:
            client.close()
            server.close()


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


class Lingering:
    """Stands in for gunicorn's close_graceful, noting each call and closing as it would."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, sock: socket.socket, *args: Any) -> None:
        self.calls.append(args)
        sock.shutdown(socket.SHUT_WR)
        sock.close()


def test_a_request_read_whole_is_closed_at_once_without_waiting_for_the_client() -> None:
    lingering = Lingering()
    with connection() as (client, server):
        client.sendall(REQUEST)
        assert server.recv(4096) == REQUEST
        server.sendall(RESPONSE)
        gunicorn_conf.close_promptly(server, lingering, 2.0)
        assert server.fileno() == -1 and lingering.calls == []
        assert _read_all(client) == RESPONSE  # the whole response, then the server's FIN


def test_unread_request_data_keeps_gunicorns_drain_and_wait() -> None:
    lingering = Lingering()
    with connection() as (client, server):
        client.sendall(REQUEST + b"GET /more HTTP/1.1\r\n\r\n")  # more than the server will read
        assert server.recv(len(REQUEST)) == REQUEST
        server.sendall(RESPONSE)
        gunicorn_conf.close_promptly(server, lingering, 2.0)
        assert lingering.calls == [(2.0,)]
        assert _read_all(client) == RESPONSE


def test_a_client_that_has_gone_is_closed_at_once() -> None:
    lingering = Lingering()
    with connection() as (client, server):
        client.sendall(REQUEST)
        assert server.recv(4096) == REQUEST
        client.close()
        gunicorn_conf.close_promptly(server, lingering)
        assert server.fileno() == -1 and lingering.calls == []


def test_the_worker_hook_puts_the_prompt_close_in_gunicorns_place_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from gunicorn import util

    if not hasattr(util, "close_graceful"):
        pytest.skip("this gunicorn closes connections at once by itself")
    original = util.close_graceful
    monkeypatch.setattr(util, "close_graceful", original)
    gunicorn_conf.close_promptly_when_the_request_was_read()
    installed = util.close_graceful
    assert installed is not original and installed.__wrapped__ is original  # type: ignore[attr-defined]
    gunicorn_conf.close_promptly_when_the_request_was_read()
    assert util.close_graceful is installed  # not wrapped twice

    with connection() as (client, server):  # and gunicorn's own wait still serves unread data
        client.sendall(REQUEST + b"more")
        assert server.recv(len(REQUEST)) == REQUEST
        server.sendall(RESPONSE)
        client.shutdown(socket.SHUT_WR)  # the client closes its side: the drain ends
        installed(server, 2.0)
        assert server.fileno() == -1
        assert _read_all(client) == RESPONSE
