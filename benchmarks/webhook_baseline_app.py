"""Baselines for ``webhook_throughput.py``, served by gunicorn exactly like the webhook service.

``bare_app()`` is plain Flask reading the body and answering 200: what gunicorn and Flask cost
on this machine. ``kit_app()`` adds the platform's request handling (request ids, problem+json,
one structured log line per request) but no signature check and no database.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from paykit.logging import configure_logging
from paykit.web import create_flask_app


def bare_app() -> Flask:
    app = Flask("webhook-baseline")

    @app.post("/webhooks/psp")
    def receive() -> Response:
        request.get_data()
        return jsonify(status="accepted")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app


def kit_app() -> Flask:
    configure_logging("webhook-baseline")
    app = create_flask_app("webhook-baseline")

    @app.post("/webhooks/psp")
    def receive() -> Response:
        request.get_data()
        return jsonify(status="accepted")

    return app
