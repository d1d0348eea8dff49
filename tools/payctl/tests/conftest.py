"""payctl run as a person runs it (its real command line) against the stand-in platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from payctl.cli import cli
from payctl.standin import ADMIN_TOKEN, Payctl, StandIn, StandInState, create_standin
from psp_simulator.testing import serving


@pytest.fixture
def standin() -> Iterator[StandIn]:
    state = StandInState()
    with serving(create_standin(state)) as url:
        yield StandIn(state, url)


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def payctl(standin: StandIn, config_home: Path) -> Payctl:
    """``payctl(*args, input=..., **env)``: one run, its exit code, stdout and stderr apart."""

    def run(*args: str, input: str | None = None, **env: str | None) -> Result:
        environment: dict[str, str | None] = {
            "PAYCTL_GATEWAY_URL": standin.url,
            "PAYCTL_LEDGER_URL": standin.url,
            "PAYCTL_SETTLEMENT_URL": standin.url,
            "PAYCTL_ADMIN_TOKEN": ADMIN_TOKEN,
            "XDG_CONFIG_HOME": str(config_home),
            "PAYCTL_CLIENT_ID": None,
            "PAYCTL_CLIENT_SECRET": None,
            **env,
        }
        return CliRunner().invoke(cli, list(args), input=input, env=environment)

    return run


@pytest.fixture
def merchant_login(standin: StandIn, payctl: Payctl) -> str:
    """A merchant of the stand-in, logged in; its id."""
    key = standin.state.new_key("MER_standin")
    result = payctl(
        "login", "--client-id", key["client_id"], "--client-secret", key["client_secret"]
    )
    assert result.exit_code == 0, result.stderr
    return "MER_standin"
