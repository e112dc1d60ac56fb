"""gunicorn settings for the ptt web app in production:

    gunicorn -c python:assistant.web.gunicorn_conf 'assistant.web:create_app()'

Anything here can be overridden on the command line (``-w 4 -b 0.0.0.0:8000``) or with
``GUNICORN_CMD_ARGS``. ``PTT_BIND`` and ``WEB_CONCURRENCY`` set the address and the number of
workers.
"""

from __future__ import annotations

import gc
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

bind = os.environ.get("PTT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Sync workers: each request is a few milliseconds of CPU and no waiting on other services
# but the database, so threads would only add switching. Put a proxy in front (TLS, slow
# clients, keep-alive).
worker_class = "sync"
backlog = 256
timeout = 30
graceful_timeout = 20


def post_worker_init(worker: Any) -> None:
    """The app, its policy packs and its libraries are built by now and live as long as the
    worker: take them out of the garbage collector's reach, so that a full collection walks only
    what requests make (over everything it takes about 80 ms, which a request would wait for)."""
    gc.collect()
    gc.freeze()
    close_promptly_when_the_request_was_read()


def close_promptly_when_the_request_was_read() -> None:
    """Make this worker close a connection at once when nothing of the request is left unread.

    Since gunicorn 27 a sync worker closes each connection "gracefully" (RFC 9112 §9.6): it
    half-closes it, then waits, for up to two seconds, until the client has closed its side
    too, so that unread request data cannot make the kernel reset the connection and cut the
    response short. With nothing unread there is nothing to cut short, yet the worker still
    waits on the client and takes no other request meanwhile: under the load test that wait was
    a tenth of the workers' time, and a client that never closes holds a worker for two seconds.
    So the wait is kept for the connections it protects and skipped for the rest."""
    from gunicorn import util

    lingering = getattr(util, "close_graceful", None)
    if lingering is None or getattr(lingering, "__wrapped__", None) is not None:
        return  # an older gunicorn closes at once already; or this is done

    def close(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        close_promptly(sock, lingering, *args, **kwargs)

    close.__wrapped__ = lingering  # type: ignore[attr-defined]
    util.close_graceful = close


def close_promptly(sock: socket.socket, lingering: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Close ``sock`` now if the client has sent nothing that is still unread (the request was
    read whole, or the client has gone); else leave it to ``lingering`` (gunicorn's drain and
    wait, with ``args``). TLS sockets, whose records cannot be peeked at, always linger."""
    if isinstance(sock, ssl.SSLSocket):
        lingering(sock, *args, **kwargs)
        return
    try:
        sock.setblocking(False)  # a socket with a timeout would first wait that long for data
        unread = sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        unread = b""  # nothing has come since the request: a close sends FIN after the response
    except OSError:
        unread = b""  # reset or not connected: there is no response left to protect
    if unread:
        lingering(sock, *args, **kwargs)
        return
    sock.close()
