"""The daily settlement report: one CSV line per capture and refund settled that UTC day."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.domain.charges import Charge, Refund, Status
from psp_simulator.domain.settlement_report import RecordType, day_bounds, report_lines
from psp_simulator.testing import AppFactory, ChargeMaker

HEADER = "record_type,payment_id,refund_id,amount,currency,psp_fee,occurred_at\n"
DAY = date(2026, 3, 14)
START, END = day_bounds(DAY)


def charge(charge_id: str, settles_at: float, outcome: Status = Status.SUCCEEDED) -> Charge:
    return Charge(
        id=charge_id,
        reference=f"PAY_{charge_id}",
        amount=10_000,
        currency="EUR",
        payment_method="pm_card_visa",
        outcome=outcome,
        failure_code=None if outcome is Status.SUCCEEDED else "card_declined",
        created_at=settles_at - 0.2,
        settles_at=settles_at,
    )


def refund(refund_id: str, settles_at: float) -> Refund:
    return Refund(
        id=refund_id,
        charge_id="ch_1",
        payment_reference="PAY_ch_1",
        reference=f"RFD_{refund_id}",
        amount=2500,
        currency="EUR",
        created_at=settles_at - 0.2,
        settles_at=settles_at,
    )


def test_only_what_settled_that_utc_day_by_now_is_reported_in_time_order() -> None:
    lines = report_lines(
        [
            charge("ch_before", START - 0.001),
            charge("ch_b", START + 60),
            charge("ch_a", START + 60),
            charge("ch_failed", START + 70, Status.FAILED),
            charge("ch_not_yet", START + 500),
            charge("ch_next_day", END),
        ],
        [refund("re_1", START + 30)],
        day=DAY,
        now=START + 100,
        fee_bps=150,
    )

    assert [(line.record_type, line.psp_id) for line in lines] == [
        (RecordType.REFUND, "re_1"),
        (RecordType.CAPTURE, "ch_a"),
        (RecordType.CAPTURE, "ch_b"),
    ]
    assert [line.psp_fee for line in lines] == [0, 150, 150]  # 1.5 % of captures only
    assert lines[0].payment_id == "PAY_ch_1" and lines[0].refund_id == "RFD_re_1"


integration = pytest.mark.integration


def report(client: FlaskClient, day: str) -> Any:
    return client.get("/reports/settlement", query_string={"date": day})


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@integration
def test_the_days_captures_and_refunds_are_lines_of_its_report(
    make_app: AppFactory, make_charge: ChargeMaker, client: FlaskClient
) -> None:
    fee_client = make_app(report_fee_bps=100).test_client()
    paid = make_charge("pm_card_visa", amount=3000)
    make_charge("pm_card_declined")
    assert wait_until(
        lambda: (client.get(f"/charges/{paid['id']}").json or {})["status"] == "succeeded", 5, 0.02
    )
    refunded = (
        client.post(
            "/refunds",
            json={"charge_id": paid["id"], "amount": 1000, "reference": f"RFD_{paid['id']}"},
            headers={"Idempotency-Key": f"refund-{paid['id']}"},
        ).json
        or {}
    )
    today = datetime.now(UTC).date().isoformat()

    def both_settled() -> bool:
        return len(rows(report(fee_client, today).text)) == 2

    assert wait_until(both_settled, 5, 0.02)
    response = report(fee_client, today)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.text.startswith(HEADER)
    capture, refund_line = rows(response.text)
    assert capture == {
        "record_type": "capture",
        "payment_id": paid["reference"],
        "refund_id": "",
        "amount": "3000",
        "currency": "EUR",
        "psp_fee": "30",
        "occurred_at": capture["occurred_at"],
    }
    assert refund_line["record_type"] == "refund"
    assert refund_line["payment_id"] == paid["reference"]
    assert refund_line["refund_id"] == refunded["reference"]
    assert (refund_line["amount"], refund_line["psp_fee"]) == ("1000", "0")
    assert capture["occurred_at"] < refund_line["occurred_at"]
    assert datetime.fromisoformat(capture["occurred_at"]).date().isoformat() == today


@integration
def test_a_day_with_nothing_settled_is_the_header_alone(client: FlaskClient) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    response = report(client, yesterday)

    assert response.status_code == 200
    assert response.text == HEADER


@integration
@pytest.mark.parametrize("day", ["", "2026-02-30", "14.03.2026", "2026-3-14", "2026-03-14T00"])
def test_a_missing_or_malformed_date_is_a_400_problem(client: FlaskClient, day: str) -> None:
    response = report(client, day)

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert (response.json or {})["code"] == "invalid_date"
