"""The bare endpoint under gunicorn for the length of a run, stopped however the run ends.

Same worker settings as payment-api in the Procfile (``-w 2 --threads 4``). The listening socket
is bound here, on a free 127.0.0.1 port, and handed to gunicorn (``fd://``), so no other process
can take the port between choosing it and gunicorn binding it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.capacity.bare_app import DATABASE_URL_VARIABLE
from paykit.testing import wait_until

PAYMENT_API_WORKERS = ("-w", "2", "--threads", "4")
READY_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serving_bare_app(database_url: str) -> Iterator[str]:
    """The base URL of the bare endpoint, ready to take requests, until the block ends.

    gunicorn's log is kept only for the block; when the endpoint does not come up, its end is
    in the error.
    """
    with (
        tempfile.TemporaryDirectory(prefix="bench-bare-") as scratch,
        _serving(database_url, Path(scratch) / "gunicorn.log") as base_url,
    ):
        yield base_url


@contextmanager
def _serving(database_url: str, log_path: Path) -> Iterator[str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-b",
        f"fd://{listener.fileno()}",
        *PAYMENT_API_WORKERS,
        "--graceful-timeout",
        "5",
        "--no-control-socket",
        "bench.capacity.bare_app:create_app()",
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command,
            env={**os.environ, DATABASE_URL_VARIABLE: database_url},
            pass_fds=(listener.fileno(),),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    listener.close()
    base_url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_until(
            lambda: server.poll() is None and _answers(f"{base_url}/healthz"),
            timeout=READY_TIMEOUT_SECONDS,
            interval=0.2,
        )
        if not ready:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"the bare endpoint did not come up; gunicorn said:\n{tail}")
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=STOP_TIMEOUT_SECONDS)
