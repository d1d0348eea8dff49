"""The bank's payouts of one UTC day: the statement a platform reconciles its batches against."""

from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient

from psp_simulator.testing import payout_body, payout_key

pytestmark = pytest.mark.integration


def test_a_day_lists_every_payout_received_that_day_in_order_and_no_other_day(
    client: FlaskClient, unique: str
) -> None:
    bodies = [
        payout_body(f"BAT_{unique}_a"),
        payout_body(f"BAT_{unique}_a", attempt=2),
        payout_body(f"BAT_{unique}_b", "acct_closed", amount=500),
    ]
    made = [client.post("/payouts", json=b, headers=payout_key(b)).get_json() for b in bodies]
    day = date.fromisoformat(made[0]["created_at"][:10])

    listed = client.get("/payouts", query_string={"date": day.isoformat()})
    before = client.get("/payouts", query_string={"date": (day - timedelta(days=1)).isoformat()})

    assert listed.status_code == 200
    assert [p["id"] for p in listed.get_json()["data"]] == [p["id"] for p in made]
    assert [(p["batch_id"], p["attempt"], p["amount"]) for p in listed.get_json()["data"]] == [
        (b["batch_id"], b["attempt"], b["amount"]) for b in bodies
    ]
    assert before.get_json()["data"] == []


def test_a_listing_needs_a_real_day_or_a_batch(client: FlaskClient) -> None:
    assert client.get("/payouts", query_string={"date": "2026-02-30"}).status_code == 400
    assert client.get("/payouts", query_string={"date": "yesterday"}).get_json()["code"] == (
        "invalid_date"
    )
    assert client.get("/payouts").get_json()["code"] == "invalid_request"
