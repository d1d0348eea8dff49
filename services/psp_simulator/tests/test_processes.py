"""The simulator's real processes: the gunicorn command and the webhook sender's main() (its
loops and stopping: test_sender_threads)."""

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from localcluster.testing import ClusterEnv
from paykit.testing import wait_until
from psp_simulator.testing import (
    SENDER_COMMAND,
    charge_body,
    log_tail,
    process_environment,
    stop_process,
)

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Gunicorn:
    def __init__(self, process: "subprocess.Popen[bytes]", url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log


@pytest.fixture
def gunicorn(cluster: ClusterEnv, key_prefix: str, tmp_path: Path) -> Iterator[Gunicorn]:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = process_environment(
        cluster.redis_url,
        key_prefix,
        # Outcomes far off so concurrent answers all show the same state.
        PSP_OUTCOME_DELAY_SECONDS="30",
        PSP_TIMEOUT_DELAY_SECONDS="120",
    )
    # The command of the service README's Procfile line.
    command = [
        sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2",
        "--threads", "8", "--graceful-timeout", "20", "--no-control-socket",
        "psp_simulator.entrypoints.app:create_app()",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_until(ready, 30, 0.1), log_tail(log)
        yield Gunicorn(process, url, log)
    finally:
        stop_process(process)


def test_gunicorn_workers_share_idempotency_fifty_concurrent_posts_one_charge(
    gunicorn: Gunicorn, unique: str
) -> None:
    body, headers = charge_body(f"PAY_{unique}"), {"Idempotency-Key": f"PAYID-{unique}"}
    start = threading.Barrier(50)
    with httpx.Client(base_url=gunicorn.url, timeout=30) as http:

        def post(_: int) -> httpx.Response:
            start.wait(timeout=30)
            return http.post("/charges", json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(post, range(50)))
        listed = http.get("/charges", params={"reference": f"PAY_{unique}"}).json()["data"]

    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    assert len({r.content for r in responses}) == 1
    assert len(listed) == 1


def test_gunicorn_workers_share_faults(gunicorn: Gunicorn) -> None:
    with httpx.Client(base_url=gunicorn.url, timeout=10) as http:
        assert http.put("/_admin/faults", json={"down": True}).status_code == 200
        statuses = {http.get("/charges/ch_x").status_code for _ in range(20)}
        assert statuses == {503}
        http.delete("/_admin/faults")
        assert {http.get("/charges/ch_x").status_code for _ in range(20)} == {404}


def test_sigterm_releases_a_held_back_answer_and_gunicorn_exits_promptly(
    gunicorn: Gunicorn, unique: str
) -> None:
    answers: list[int] = []

    def post() -> None:
        response = httpx.post(
            f"{gunicorn.url}/charges",
            json=charge_body(f"PAY_{unique}", "pm_card_timeout"),
            headers={"Idempotency-Key": unique},
            timeout=60,
        )
        answers.append(response.status_code)

    caller = threading.Thread(target=post)
    caller.start()
    assert wait_until(
        lambda: bool(
            httpx.get(f"{gunicorn.url}/charges", params={"reference": f"PAY_{unique}"}).json()[
                "data"
            ]
        ),
        10,
        0.05,
    )
    started = time.monotonic()
    assert stop_process(gunicorn.process, timeout=20) == 0, log_tail(gunicorn.log)
    caller.join(timeout=10)
    assert time.monotonic() - started < 10  # not the 120 s delay, nor the 20 s graceful timeout
    assert answers == [201]


def test_webhook_sender_refuses_to_start_without_its_settings(
    cluster: ClusterEnv, key_prefix: str
) -> None:
    result = subprocess.run(
        SENDER_COMMAND,
        env=process_environment(cluster.redis_url, key_prefix),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert b"PSP_WEBHOOK_URL" in result.stderr
    assert b"PSP_WEBHOOK_SECRETS" in result.stderr
