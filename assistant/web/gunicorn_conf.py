"""gunicorn settings for the ptt web app in production:

    gunicorn -c python:assistant.web.gunicorn_conf 'assistant.web:create_app()'

Anything here can be overridden on the command line (``-w 4 -b 0.0.0.0:8000``) or with
``GUNICORN_CMD_ARGS``. ``PTT_BIND`` and ``WEB_CONCURRENCY`` set the address and the number of
workers.
"""

from __future__ import annotations

import gc
import os
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
