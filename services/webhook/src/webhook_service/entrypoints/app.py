"""The web process: ``gunicorn 'webhook_service.entrypoints.app:create_app()'``."""

from __future__ import annotations

from flask import Flask

from paykit.logging import configure_logging
from paykit.web import create_flask_app
from webhook_service.bootstrap import SERVICE_NAME, WebhookService, bootstrap
from webhook_service.entrypoints import admin, endpoints_api, psp_webhooks
from webhook_service.entrypoints.app_context import attach
from webhook_service.settings import WebhookSettings, load_web_settings


def create_app(
    settings: WebhookSettings | None = None, *, service: WebhookService | None = None
) -> Flask:
    """The Flask app; with no arguments it is the process entry point.

    Then settings come from the environment (a bad or missing variable stops start-up) and
    logging is configured for the process. Tests pass settings, or a service built with fakes.
    """
    if service is None:
        if settings is None:
            settings = load_web_settings()
            configure_logging(SERVICE_NAME, json=settings.log.json, level=settings.log.level)
        service = bootstrap(settings)
    app = create_flask_app(
        SERVICE_NAME,
        readiness_checks=service.readiness_checks,
        # One byte of slack: how a chunked body is told apart from one exactly at the limit.
        max_content_length=service.rules.max_body_bytes + 1,
        import_name=__name__,
    )
    attach(app, service)
    app.register_blueprint(psp_webhooks.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(endpoints_api.blueprint)
    return app
