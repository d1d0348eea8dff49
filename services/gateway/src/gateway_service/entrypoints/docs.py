"""The OpenAPI document at ``/v1/openapi.json`` and Swagger UI at ``/docs``, served locally.

Register in ``create_app``::

    app.register_blueprint(docs_blueprint())

Swagger UI's files come from the ``swagger-ui-py`` package (Swagger UI 5, which renders
OpenAPI 3.1) and are served by Flask from ``/docs/assets/``: the page loads nothing from a CDN,
so the docs work on a machine with no internet. Neither route needs a token.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from flask import Blueprint, Response, jsonify, send_from_directory

from gateway_service.openapi.spec import build_spec

ASSETS: Final = Path(str(files("swagger_ui") / "static"))
SPEC_PATH: Final = "/v1/openapi.json"

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Payments API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""
# A separate script, not inline, so the page works under a strict Content-Security-Policy.
_INIT: Final = f"""window.ui = SwaggerUIBundle({{
  url: "{SPEC_PATH}",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null
}});
"""


def docs_blueprint() -> Blueprint:
    api = Blueprint("public_docs", __name__)
    spec = build_spec()

    @api.get(SPEC_PATH)
    def openapi_document() -> Response:
        return jsonify(spec)

    @api.get("/docs")
    def page() -> Response:
        return _text(_PAGE, "text/html")

    @api.get("/docs/init.js")
    def init_script() -> Response:
        return _text(_INIT, "text/javascript")

    @api.get("/docs/assets/<path:name>")
    def asset(name: str) -> Response:
        return send_from_directory(ASSETS, name, max_age=3600)

    return api


def _text(body: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    return response
