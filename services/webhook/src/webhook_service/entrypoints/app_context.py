"""Where a request finds the service's parts: on the Flask app that serves it."""

from __future__ import annotations

from typing import Final, cast

from flask import Flask, current_app

from webhook_service.bootstrap import WebhookService

_EXTENSION: Final = "webhook_service"


def attach(app: Flask, service: WebhookService) -> None:
    app.extensions[_EXTENSION] = service


def current_service() -> WebhookService:
    return cast(WebhookService, current_app.extensions[_EXTENSION])


def service_of(app: Flask) -> WebhookService:
    return cast(WebhookService, app.extensions[_EXTENSION])
