"""The gateway's Flask app: its own routes (tokens, JWKS, admin) and the public edge (/v1).

``create_app`` is what gunicorn runs (``gateway_service.entrypoints.app:create_app()``). The
core's blueprints are the tokens and JWKS (``auth_api``) and the operators' admin API
(``admin_api``); the edge's are the proxied /v1 routes (``proxy``) and the OpenAPI document and
docs (``docs``), registered by `register_edge`.
"""

from __future__ import annotations

from flask import Flask, Response

from gateway_service import edge_settings as edge_settings_module
from gateway_service import settings as settings_module
from gateway_service.adapters.key_encryption import UndecryptableKey
from gateway_service.adapters.ratelimit import MerchantRateLimits
from gateway_service.adapters.upstream_http import PooledUpstreams
from gateway_service.bootstrap import GatewayService, bootstrap
from gateway_service.domain.errors import (
    ApiKeyNotFound,
    GatewayError,
    InvalidClient,
    MerchantNotFound,
    NoSigningKey,
    RotationPending,
)
from gateway_service.edge_settings import EdgeSettings
from gateway_service.entrypoints.admin_api import admin_blueprint
from gateway_service.entrypoints.auth_api import auth_blueprint
from gateway_service.entrypoints.docs import docs_blueprint
from gateway_service.entrypoints.proxy import proxy_blueprint
from paykit.logging import configure_logging, get_logger
from paykit.problems import Problem
from paykit.web import create_flask_app, problem_response

DOMAIN_STATUS: dict[type[GatewayError], int] = {
    InvalidClient: 401,
    MerchantNotFound: 404,
    ApiKeyNotFound: 404,
    NoSigningKey: 503,
    RotationPending: 409,
}
# The edge's own limit (GATEWAY_MAX_BODY_BYTES) is the public one; this bounds everything else.
MAX_CONTENT_LENGTH = 1024 * 1024

_log = get_logger(__name__)


def create_app(
    config: settings_module.GatewaySettings | None = None,
    *,
    edge: EdgeSettings | None = None,
    service: GatewayService | None = None,
) -> Flask:
    config = config or settings_module.load()
    edge = edge or edge_settings_module.load()
    configure_logging("gateway", json=config.json_logs)
    service = service or bootstrap(config, name="gateway-web")
    app = create_flask_app(
        "gateway", readiness_checks=service.readiness_checks, max_content_length=MAX_CONTENT_LENGTH
    )
    app.register_blueprint(auth_blueprint(service))
    app.register_blueprint(admin_blueprint(service))
    register_edge(app, service, edge)

    @app.errorhandler(GatewayError)
    def domain_error(error: GatewayError) -> Response:
        return problem_response(
            Problem(DOMAIN_STATUS.get(type(error), 422), error.code, detail=str(error))
        )

    @app.errorhandler(UndecryptableKey)
    def undecryptable(error: UndecryptableKey) -> Response:
        _log.error("signing_key_undecryptable", error=str(error))
        return problem_response(
            Problem(503, "signing_key_unavailable", detail="The gateway cannot sign tokens now.")
        )

    app.extensions["gateway_service"] = service
    return app


def register_edge(app: Flask, service: GatewayService, edge: EdgeSettings) -> None:
    """The public /v1 routes proxied to the services, their rate limits, OpenAPI and docs."""
    http = PooledUpstreams(edge)
    service.closers.append(http.close)
    app.register_blueprint(
        proxy_blueprint(
            edge,
            auth=service.merchant_auth,
            http=http,
            rate_limits=MerchantRateLimits.from_settings(edge, service.redis),
        )
    )
    app.register_blueprint(docs_blueprint())
