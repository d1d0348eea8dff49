"""Which processes the capacity rounds hold still: every one a create sets working, and none
that serves the HTTP API being measured."""

from __future__ import annotations

from bench.capacity.idle import pipeline_process_names
from localcluster.config import PROJECT_ROOT
from localcluster.supervisor import parse_procfile


def test_the_pipeline_is_every_procfile_process_but_the_web_servers() -> None:
    every = [name for name, _ in parse_procfile(PROJECT_ROOT / "Procfile")]

    paused = pipeline_process_names()

    assert {"payment-charger", "payment-relay", "ledger-poster", "psp-webhook-sender"} <= set(
        paused
    )
    assert not {"gateway-web", "payment-api", "psp-web", "webhook-web"} & set(paused)
    assert set(paused) | {name for name in every if name.endswith("-web")} | {"payment-api"} == (
        set(every)
    )
