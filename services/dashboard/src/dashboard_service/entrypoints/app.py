"""The dashboard's Flask app: server-rendered pages, one stylesheet, no script.

``create_app`` is what gunicorn runs (``dashboard_service.entrypoints.app:create_app()``). Every
error a person can meet is a page saying what happened and what to do: the API's problems,
an API that does not answer, a refused form, an unknown address, and anything unexpected (whose
details go to the log with the request id, never to the page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect  # type: ignore[import-untyped]
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from dashboard_service import settings as settings_module
from dashboard_service.adapters.dead_letters import DeadLettersUnavailable
from dashboard_service.adapters.platform_api import ApiProblem, ApiUnreachable
from dashboard_service.adapters.sessions import (
    RedisSessionInterface,
    ServerSession,
    shared_secret_key,
)
from dashboard_service.bootstrap import DashboardService, bootstrap
from dashboard_service.domain.explanations import Explanation, explain_problem, unreachable
from dashboard_service.domain.money import format_amount
from dashboard_service.domain.times import shown
from dashboard_service.entrypoints.access import NotConfigured
from dashboard_service.entrypoints.admin_views import admin
from dashboard_service.entrypoints.auth_views import auth
from dashboard_service.entrypoints.forms import ActionForm
from dashboard_service.entrypoints.merchant_views import merchant
from paykit.logging import configure_logging, get_logger
from paykit.web import create_flask_app, current_request_id

HERE: Final = Path(__file__).parent
# No script, no inline style, no frames, nothing from anywhere else.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
MAX_CONTENT_LENGTH: Final = 64 * 1024
SESSION_COOKIE: Final = "dashboard_session"

_log = get_logger(__name__)


def create_app(
    config: settings_module.DashboardSettings | None = None,
    *,
    service: DashboardService | None = None,
) -> Flask:
    config = config or settings_module.load()
    configure_logging("dashboard", json=config.json_logs)
    service = service or bootstrap(config)
    app = create_flask_app(
        "dashboard",
        readiness_checks=service.readiness_checks(),
        max_content_length=MAX_CONTENT_LENGTH,
        import_name=__name__,
    )
    app.template_folder = str(HERE / "templates")
    app.static_folder = str(HERE / "static")
    app.static_url_path = "/static"
    app.add_url_rule("/static/<path:filename>", "static", app.send_static_file)
    app.config.update(
        SECRET_KEY=(
            config.secret_key.reveal() if config.secret_key else shared_secret_key(service.redis)
        ),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        WTF_CSRF_TIME_LIMIT=3600,
    )
    app.session_interface = RedisSessionInterface(
        service.redis, config.idle_timeout, always_secure=config.secure_cookies
    )
    if config.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies
        )
    CSRFProtect(app)
    app.extensions["dashboard_service"] = service
    app.register_blueprint(auth)
    app.register_blueprint(merchant)
    app.register_blueprint(admin)
    _install_page_helpers(app)
    _install_error_pages(app)
    app.after_request(_secure_headers)
    return app


def _install_page_helpers(app: Flask) -> None:
    app.jinja_env.filters["money"] = format_amount
    app.jinja_env.filters["when"] = shown

    @app.context_processor
    def signed_in() -> dict[str, object]:
        return {
            "role": session.get("role"),
            "subject": session.get("subject"),
            "sign_out_form": ActionForm(formdata=None),
        }


def _page(explanation: Explanation, title: str) -> tuple[str, int]:
    return render_template("error.html", explanation=explanation, title=title), explanation.status


def _install_error_pages(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def api_problem(problem: ApiProblem) -> Response | tuple[str, int]:
        if problem.status == 401 and session.get("role"):
            assert isinstance(session, ServerSession)
            was = session.get("role")
            session.clear()
            session.regenerate()
            flash("Your sign-in has expired: sign in again.")
            endpoint = "auth.operator_sign_in" if was == "operator" else "auth.sign_in"
            return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))
        explanation = explain_problem(
            problem.status, problem.body, reference=problem.request_id or current_request_id()
        )
        return _page(explanation, "Not found" if problem.status == 404 else "Not done")

    @app.errorhandler(ApiUnreachable)
    def api_unreachable(error: ApiUnreachable) -> tuple[str, int]:
        _log.warning("api_unreachable", api=error.api, reason=error.reason)
        return _page(unreachable(error.api), "Not available")

    @app.errorhandler(DeadLettersUnavailable)
    def kafka_unavailable(error: DeadLettersUnavailable) -> tuple[str, int]:
        _log.warning("dead_letters_unavailable", reason=str(error))
        explanation = Explanation(
            503,
            f"The dead letter queues could not be read: {error}.",
            "Check that Kafka answers, then reload the page.",
        )
        return _page(explanation, "Not available")

    @app.errorhandler(NotConfigured)
    def not_configured(error: NotConfigured) -> tuple[str, int]:
        explanation = Explanation(
            503,
            f"This dashboard is not connected to the {error}.",
            "Its operators can set the address in its configuration (see its README).",
        )
        return _page(explanation, "Not available")

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> tuple[str, int]:
        _log.info("csrf_refused", reason=error.description)
        explanation = Explanation(
            400,
            "The form was refused: it was sent without this dashboard's security token, "
            "or the token had expired. Nothing was changed.",
            "Go back, reload the page and send the form again.",
            reference=current_request_id(),
        )
        return _page(explanation, "Form refused")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        status = error.code or 500
        explanation = explain_problem(status, None, reference=current_request_id())
        return _page(explanation, "Not found" if status == 404 else "Not done")

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        _log.error("unhandled_exception", exc_info=error)
        return _page(explain_problem(500, None, reference=current_request_id()), "Not done")


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response
