"""payctl login keeps the token only where its owner alone can read it."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from payctl.standin import Payctl, StandIn


def credentials_file(config_home: Path) -> Path:
    return config_home / "payctl" / "credentials.json"


def test_login_keeps_token_expiry_and_gateway_in_a_0600_file(
    standin: StandIn, payctl: Payctl, config_home: Path
) -> None:
    key = standin.state.new_key("MER_a")
    result = payctl(
        "login", "--client-id", key["client_id"], "--client-secret", key["client_secret"]
    )
    assert result.exit_code == 0, result.stderr
    kept = credentials_file(config_home)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    stored = json.loads(kept.read_text())
    assert stored["gateway_url"] == standin.url
    assert standin.state.tokens[stored["access_token"]] == "MER_a"
    expiry = datetime.fromisoformat(stored["expires_at"])
    assert timedelta(minutes=14) < expiry - datetime.now(UTC) <= timedelta(minutes=15)
    assert key["client_secret"] not in result.stdout


def test_login_prompts_for_what_is_not_given_without_echoing_the_secret(
    standin: StandIn, payctl: Payctl, config_home: Path
) -> None:
    key = standin.state.new_key("MER_b")
    result = payctl("login", input=f"{key['client_id']}\n{key['client_secret']}\n")
    assert result.exit_code == 0, result.stderr
    assert key["client_secret"] not in result.stdout
    assert credentials_file(config_home).exists()


def test_a_wrong_secret_is_the_gateways_problem_in_one_line_and_nothing_is_kept(
    standin: StandIn, payctl: Payctl, config_home: Path
) -> None:
    key = standin.state.new_key("MER_c")
    result = payctl("login", "--client-id", key["client_id"], "--client-secret", "sk_test_no")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: gateway: Unauthorized: Unknown client or wrong secret. (invalid_client, HTTP 401)\n"
    )
    assert not credentials_file(config_home).exists()


def test_no_token_file_where_the_mode_cannot_be_set(
    standin: StandIn, payctl: Payctl, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(fd: int, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse)
    key = standin.state.new_key("MER_d")
    result = payctl(
        "login", "--client-id", key["client_id"], "--client-secret", key["client_secret"]
    )
    assert result.exit_code == 1
    assert "cannot make" in result.stderr and "no token written" in result.stderr
    assert list((config_home / "payctl").iterdir()) == []


def test_an_expired_login_is_refused_before_any_request(
    standin: StandIn, payctl: Payctl, merchant_login: str, config_home: Path
) -> None:
    kept = credentials_file(config_home)
    stored = json.loads(kept.read_text())
    stored["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    kept.write_text(json.dumps(stored))
    asked = len(standin.state.requests)
    result = payctl("payments", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the login token expired at ")
    assert result.stderr.endswith(": run payctl login\n")
    assert len(standin.state.requests) == asked


def test_a_token_the_gateway_no_longer_accepts_says_to_log_in_again(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    standin.state.tokens.clear()
    result = payctl("balances")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: gateway: Unauthorized: The bearer token is not valid."
        " (invalid_token, HTTP 401) (run payctl login)\n"
    )


def test_a_login_to_one_gateway_is_not_sent_to_another(payctl: Payctl, merchant_login: str) -> None:
    result = payctl("balances", PAYCTL_GATEWAY_URL="http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "not http://127.0.0.1:9: run payctl login" in result.stderr


def test_without_a_login_merchant_commands_say_so(payctl: Payctl) -> None:
    result = payctl("payments", "get", "PAY_1")
    assert (result.exit_code, result.stderr) == (1, "error: not logged in: run payctl login\n")
