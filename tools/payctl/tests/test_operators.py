"""Operators' commands: merchants and keys, the ledger, settlement runs and reconciliation."""

from __future__ import annotations

import json

from payctl.standin import Payctl, StandIn


def test_a_merchant_is_created_with_its_credentials_shown_once(
    standin: StandIn, payctl: Payctl
) -> None:
    result = payctl("merchants", "create", "--name", "Acme")
    assert result.exit_code == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines()[:-1])
    assert lines["merchant_id"] == standin.state.merchants[0]["merchant_id"]
    assert lines["client_secret"].startswith("sk_test_")
    assert "shown only now" in result.stdout.splitlines()[-1]
    listed = json.loads(payctl("merchants", "list", "--json").stdout)
    assert listed["data"] == [{"merchant_id": lines["merchant_id"], "name": "Acme"}]


def test_the_credentials_a_merchant_is_created_with_log_it_in(
    payctl: Payctl,
) -> None:
    made = json.loads(payctl("merchants", "create", "--name", "Acme", "--json").stdout)
    logged = payctl(
        "login", "--client-id", made["client_id"], "--client-secret", made["client_secret"]
    )
    assert logged.exit_code == 0, logged.stderr
    assert payctl("payments", "list").exit_code == 0


def test_keys_are_created_listed_and_revoked_and_a_revoked_key_logs_in_no_more(
    standin: StandIn, payctl: Payctl
) -> None:
    merchant = json.loads(payctl("merchants", "create", "--name", "Acme", "--json").stdout)
    merchant_id = merchant["merchant_id"]
    second = json.loads(payctl("keys", "create", "--merchant", merchant_id, "--json").stdout)
    table = payctl("keys", "list", "--merchant", merchant_id)
    assert table.stdout.splitlines()[0].split() == ["KEY_ID", "CLIENT_ID", "STATUS"]
    assert len(table.stdout.splitlines()) == 3
    revoked = payctl("keys", "revoke", "--merchant", merchant_id, second["key_id"])
    assert revoked.exit_code == 0, revoked.stderr
    statuses = {
        k["key_id"]: k["status"]
        for k in json.loads(payctl("keys", "list", "--merchant", merchant_id, "--json").stdout)[
            "data"
        ]
    }
    assert statuses == {merchant["key_id"]: "active", second["key_id"]: "revoked"}
    refused = payctl(
        "login", "--client-id", second["client_id"], "--client-secret", second["client_secret"]
    )
    assert refused.exit_code == 1 and "(invalid_client, HTTP 401)" in refused.stderr


def test_keys_of_an_unknown_merchant_are_the_gateways_404(payctl: Payctl) -> None:
    result = payctl("keys", "list", "--merchant", "MER_nobody")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: gateway: Not Found: no merchant MER_nobody (merchant_not_found, HTTP 404)\n"
    )


def test_a_wrong_admin_token_says_which_variable_to_check(payctl: Payctl) -> None:
    result = payctl("merchants", "list", PAYCTL_ADMIN_TOKEN="not-it")
    assert result.exit_code == 1
    assert result.stderr.endswith("(invalid_token, HTTP 401) (check PAYCTL_ADMIN_TOKEN)\n")


def test_without_an_admin_token_or_a_local_cluster_to_make_one_the_line_says_so(
    payctl: Payctl,
) -> None:
    result = payctl("merchants", "list", PAYCTL_ADMIN_TOKEN=None, PAY_CLUSTER="payctl-none")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no admin token: set PAYCTL_ADMIN_TOKEN")
    assert len(result.stderr.splitlines()) == 1


def test_the_trial_balance_table_and_its_verdict(payctl: Payctl) -> None:
    result = payctl("ledger", "trial-balance")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "CURRENCY",
        "ACCOUNT",
        "TYPE",
        "DEBITS",
        "CREDITS",
        "BALANCE",
        "MATCHES_ENTRIES",
    ]
    assert lines[-1] == "EUR: debits 3000 credits 3000 balanced"
    assert json.loads(payctl("ledger", "trial-balance", "--json").stdout)["balanced"] is True


def test_ledger_verify_needs_the_ledgers_database(payctl: Payctl) -> None:
    result = payctl("ledger", "verify", PAYCTL_LEDGER_DATABASE_URL=None, LEDGER_DATABASE_URL=None)
    assert result.exit_code == 2
    assert "set PAYCTL_LEDGER_DATABASE_URL" in result.stderr


def test_a_settlement_run_sends_its_cutoff_in_utc(standin: StandIn, payctl: Payctl) -> None:
    result = payctl("settlements", "run", "--cutoff", "2026-12-01T02:00:00")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "cutoff 2026-12-01T02:00:00+00:00: 1 closed, 0 carried forward"
    )


def test_batches_listed_shown_and_their_csv(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    made = json.loads(
        payctl(
            "payments",
            "create",
            "--amount",
            "3000",
            "--currency",
            "EUR",
            "--method",
            "pm_card_visa",
            "--json",
        ).stdout
    )
    payctl("payments", "follow", made["id"], "--interval", "0.01")
    batch_id = f"STL_{made['id']}"
    listed = payctl("settlements", "list")
    assert listed.stdout.splitlines()[1].split()[:2] == [batch_id, "paid"]
    shown = payctl("settlements", "show", batch_id)
    assert "items\nID" in shown.stdout and made["id"] in shown.stdout
    csv = payctl("settlements", "csv", batch_id)
    assert csv.stdout.splitlines()[-1] == "total,,,2990"


def test_reconcile_asks_for_the_utc_day_and_exits_by_its_verdict(
    standin: StandIn, payctl: Payctl
) -> None:
    matched = payctl("reconcile", "--date", "2026-11-30")
    assert matched.exit_code == 0, matched.stderr
    assert matched.stdout.splitlines()[0] == "2026-11-30: matched"
    standin.state.reconciliation_status = "discrepancies"
    found = payctl("reconcile", "--date", "2026-11-30", "--json")
    assert found.exit_code == 1
    report = json.loads(found.stdout)
    assert (report["from"], report["to"]) == (
        "2026-11-30T00:00:00+00:00",
        "2026-12-01T00:00:00+00:00",
    )


def test_dlq_without_kafka_configured_is_the_kit_tools_own_line(payctl: Payctl) -> None:
    result = payctl("dlq", "list", "payment-events.dlq", KAFKA_BOOTSTRAP_SERVERS=None)
    assert result.exit_code == 2
    assert result.stderr == "error: give --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS\n"
