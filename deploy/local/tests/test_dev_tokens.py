"""The development tokens of ``make token``: a merchant's, and an operator's for every admin API."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from ledger_service.settings import ADMIN_SCOPE as LEDGER_ADMIN
from localcluster.cli import token
from localcluster.config import load_config
from localcluster.secrets import ensure_auth_keys
from paykit.auth.audiences import ADMIN_AUDIENCE, WEBHOOKS_ADMIN_SCOPE
from settlement_service.settings import ADMIN_SCOPE as SETTLEMENT_ADMIN


def _claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *, admin: bool
) -> dict[str, object]:
    config = load_config({"PAY_CLUSTER": "dev", "PAY_STATE_DIR": str(tmp_path)})
    ensure_auth_keys(config.state_dir / "secrets")
    token(config, None, None, 5, admin=admin)
    issued = capsys.readouterr().out.strip()
    claims: dict[str, object] = jwt.decode(issued, options={"verify_signature": False})
    return claims


def test_an_operators_token_opens_every_admin_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claims = _claims(tmp_path, capsys, admin=True)
    assert claims["aud"] == ADMIN_AUDIENCE
    granted = str(claims["scope"]).split()
    assert {WEBHOOKS_ADMIN_SCOPE, LEDGER_ADMIN, SETTLEMENT_ADMIN} <= set(granted)


def test_a_merchants_token_opens_no_admin_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    claims = _claims(tmp_path, capsys, admin=False)
    assert claims["aud"] != ADMIN_AUDIENCE
    assert not {LEDGER_ADMIN, SETTLEMENT_ADMIN} & set(str(claims["scope"]).split())
