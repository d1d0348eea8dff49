"""The bare reference endpoint: Flask under gunicorn, one INSERT per POST, nothing else.

What the payment service's create is measured against: the least a Python web endpoint that
writes one row can do on this machine. It has the payment API's process shape (gunicorn
``-w 2 --threads 4``, started by ``bench.capacity.bare_server``) and its pool (psycopg 3 through
``paykit.db.create_pool``, 8 connections per worker as payment-api), and none of its work: no
auth, no idempotency, no outbox, one round trip to the database per request.

``BENCH_BASELINE_DATABASE_URL`` names the database; the table is ``bare_inserts``.
"""

from __future__ import annotations

import os
import uuid

from flask import Flask, Response, jsonify, request
from psycopg import sql

from bench.capacity.baseline_db import BARE_TABLE
from paykit.db import create_pool

DATABASE_URL_VARIABLE = "BENCH_BASELINE_DATABASE_URL"
PAYMENT_API_POOL_SIZE = 8


def create_app() -> Flask:
    pool = create_pool(
        os.environ[DATABASE_URL_VARIABLE], max_size=PAYMENT_API_POOL_SIZE, name="bench-bare"
    )
    insert = sql.SQL(
        "INSERT INTO {} (id, amount, currency, payment_method) VALUES (%s, %s, %s, %s)"
    ).format(sql.Identifier(BARE_TABLE))
    app = Flask("bench-bare")

    @app.post("/v1/payments")
    def create_payment() -> tuple[Response, int]:
        body = request.get_json(force=True)
        row_id = uuid.uuid4()
        with pool.connection() as conn:
            conn.execute(insert, (row_id, body["amount"], body["currency"], body["payment_method"]))
        return jsonify(id=str(row_id), amount=body["amount"], currency=body["currency"]), 201

    @app.get("/healthz")
    def healthz() -> Response:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        return jsonify(status="ok")

    return app
