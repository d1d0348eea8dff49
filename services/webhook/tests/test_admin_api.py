"""The internal admin API: authenticated listing, inspection and re-emission of deliveries."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask

from localcluster.cli import main as cluster_cli
from payevents import decode
from webhook_service.settings import load_web_settings

pytestmark = pytest.mark.integration

Body = Callable[..., dict[str, Any]]


def test_the_admin_api_needs_a_token(app: Flask) -> None:
    response = app.test_client().get("/admin/deliveries")

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert (response.json["code"], response.json["reason"]) == ("invalid_token", "missing_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_admin_scope_is_forbidden(
    app: Flask, issue_token: Callable[..., str]
) -> None:
    token = issue_token(scopes=("payments:read",))

    response = app.test_client().get(
        "/admin/deliveries", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert response.json["code"] == "insufficient_scope"


def test_a_forged_token_is_refused(app: Flask, issue_token: Callable[..., str]) -> None:
    header, payload, signature = issue_token().split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    response = app.test_client().get(
        "/admin/deliveries", headers={"Authorization": f"Bearer {forged}"}
    )

    assert response.status_code == 401
    assert response.json["reason"] in {"invalid_signature", "malformed_token"}


def test_the_clusters_merchant_token_is_refused_and_its_admin_token_accepted(
    make_app: Callable[..., Flask],
    webhook_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Configured as the cluster runs it, with tokens from ``localcluster token [--admin]``."""
    settings = load_web_settings({**os.environ, "WEBHOOK_DATABASE_URL": webhook_database})
    client = make_app(**vars(settings)).test_client()

    def answer_to(*token_options: str) -> tuple[int, str | None]:
        assert cluster_cli(["token", *token_options]) == 0
        token = capsys.readouterr().out.split()[-1]
        response = client.get("/admin/deliveries", headers={"Authorization": f"Bearer {token}"})
        return response.status_code, (response.json or {}).get("reason")

    assert answer_to() == (401, "invalid_audience")
    assert answer_to("--admin") == (200, None)
    assert answer_to("--admin", "--scope", "payments:read") == (403, None)


def test_deliveries_are_listed_newest_first_with_filters_and_pages(
    admin: Any, psp: Any, payment_body: Body, unique: str
) -> None:
    accepted = [psp.post(payment_body()).json["delivery_id"] for _ in range(3)]
    rejected = psp.post(payment_body(status="PAID")).json["delivery_id"]

    everything = admin.get(f"/admin/deliveries?payment_id=PAY_{unique}").json
    only_accepted = admin.get(f"/admin/deliveries?payment_id=PAY_{unique}&verdict=accepted").json
    first_page = admin.get(f"/admin/deliveries?payment_id=PAY_{unique}&limit=2").json
    second_page = admin.get(
        f"/admin/deliveries?payment_id=PAY_{unique}&limit=2&cursor={first_page['next_cursor']}"
    ).json

    assert [d["id"] for d in everything["deliveries"]] == accepted[::-1]
    assert everything["next_cursor"] is None
    assert [d["id"] for d in only_accepted["deliveries"]] == accepted[::-1]
    assert [d["id"] for d in first_page["deliveries"] + second_page["deliveries"]] == accepted[::-1]
    assert second_page["next_cursor"] is None
    by_reason = admin.get("/admin/deliveries?reason=unknown_status&limit=200").json["deliveries"]
    assert rejected in {d["id"] for d in by_reason}


def test_a_delivery_can_be_found_by_psp_event_id(admin: Any, psp: Any, payment_body: Body) -> None:
    body = payment_body()
    accepted = psp.post(body).json["delivery_id"]
    duplicate = psp.post(body).json["delivery_id"]

    found = admin.get(f"/admin/deliveries?psp_event_id={body['id']}").json["deliveries"]

    assert [(d["id"], d["verdict"]) for d in found] == [
        (duplicate, "duplicate"),
        (accepted, "accepted"),
    ]


def test_invalid_filters_are_refused(admin: Any) -> None:
    response = admin.get("/admin/deliveries?verdict=maybe&limit=0&colour=red")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_query"
    assert set(response.json["errors"]) == {"verdict", "limit", "colour"}


def test_one_delivery_is_shown_with_its_body_and_headers(
    admin: Any, psp: Any, payment_body: Body, unique: str
) -> None:
    body = payment_body()
    delivery_id = psp.post(body).json["delivery_id"]

    shown = admin.get(f"/admin/deliveries/{delivery_id}").json

    assert shown["verdict"] == "accepted"
    assert shown["payment_id"] == f"PAY_{unique}"
    assert shown["status"] == "succeeded"
    assert shown["event_type"] == "psp.payment_status_received"
    assert json.loads(shown["body"]) == body
    assert shown["headers"]["psp-signature"].startswith("t=")


def test_an_unknown_delivery_is_not_found(admin: Any) -> None:
    response = admin.get("/admin/deliveries/dlv_nope")

    assert response.status_code == 404
    assert response.json["code"] == "delivery_not_found"


def test_reemitting_queues_the_same_event_again_once_it_was_sent(
    admin: Any, psp: Any, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    delivery_id = psp.post(payment_body()).json["delivery_id"]
    (original,) = webhook_db.outbox(f"PAY_{unique}")

    while_unsent = admin.post(f"/admin/deliveries/{delivery_id}/reemit")
    _mark_sent(webhook_db.url, original["event_id"])
    after_sent = admin.post(f"/admin/deliveries/{delivery_id}/reemit")
    repeated = admin.post(f"/admin/deliveries/{delivery_id}/reemit")

    assert (while_unsent.status_code, while_unsent.json["status"]) == (202, "already_queued")
    assert (after_sent.status_code, after_sent.json["status"]) == (202, "queued")
    assert repeated.json["status"] == "already_queued"
    (requeued,) = webhook_db.outbox(f"PAY_{unique}")
    assert requeued["id"] > original["id"]
    assert requeued["sent_at"] is None
    assert decode(bytes(requeued["value"])) == decode(bytes(original["value"]))
    assert after_sent.json["event_id"] == original["event_id"]


def test_only_an_accepted_delivery_can_be_reemitted(
    admin: Any, psp: Any, payment_body: Body
) -> None:
    body = payment_body()
    psp.post(body)
    duplicate = psp.post(body).json["delivery_id"]
    rejected = psp.post(payment_body(status="PAID")).json["delivery_id"]

    for delivery_id in (duplicate, rejected):
        response = admin.post(f"/admin/deliveries/{delivery_id}/reemit")
        assert response.status_code == 409
        assert response.json["code"] == "delivery_not_accepted"
    assert admin.post("/admin/deliveries/dlv_nope/reemit").status_code == 404


def _mark_sent(url: str, event_id: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE outbox SET sent_at = now() WHERE event_id = %s", (event_id,))
