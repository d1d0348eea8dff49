"""The gateway's webhook-endpoint operations agree with the webhook service that serves them.

Each operation's upstream route exists on the service with its method; each request body the
gateway documents (and lets through) names exactly the fields the service accepts; and the
served document, these operations in it, is valid OpenAPI 3.1. No cluster needed.
"""

from __future__ import annotations

import pytest
from flask import Flask
from marshmallow import Schema
from openapi_spec_validator import validate
from werkzeug.exceptions import MethodNotAllowed, NotFound

from gateway_service.openapi import schemas, spec
from gateway_service.openapi.operations import (
    OPERATIONS,
    WEBHOOK_ENDPOINT_OPERATIONS,
    Operation,
    Upstream,
)
from webhook_service.domain.endpoints import MessageState
from webhook_service.domain.public_events import PUBLIC_EVENT_TYPES
from webhook_service.entrypoints import endpoints_api

SERVICE_BODIES: dict[type[Schema], type[Schema]] = {
    schemas.CreateWebhookEndpointRequest: endpoints_api._CreateEndpoint,
    schemas.UpdateWebhookEndpointRequest: endpoints_api._UpdateEndpoint,
    schemas.RotateWebhookSecretRequest: endpoints_api._Rotate,
    schemas.RedeliverWebhooksRequest: endpoints_api._Redeliver,
}


def _service_routes() -> Flask:
    app = Flask(__name__)
    app.register_blueprint(endpoints_api.blueprint)
    return app


@pytest.mark.parametrize(
    "operation", WEBHOOK_ENDPOINT_OPERATIONS, ids=lambda operation: operation.operation_id
)
def test_each_operation_reaches_a_route_of_the_webhook_service(operation: Operation) -> None:
    path = operation.upstream_path.format(endpoint_id="we_1")
    adapter = _service_routes().url_map.bind("webhook.internal")

    try:
        adapter.match(path, method=operation.method)
    except (NotFound, MethodNotAllowed) as error:
        pytest.fail(f"{operation.method} {path}: {type(error).__name__}")
    assert operation.upstream is Upstream.WEBHOOK
    assert operation.path == "/v1" + operation.upstream_path


@pytest.mark.parametrize("gateway_body", SERVICE_BODIES, ids=lambda schema: schema.__name__)
def test_each_body_names_exactly_what_the_service_accepts(gateway_body: type[Schema]) -> None:
    assert set(gateway_body().fields) == set(SERVICE_BODIES[gateway_body]().fields)


def test_the_event_types_and_states_are_the_services() -> None:
    assert set(schemas.WEBHOOK_EVENT_TYPES) == PUBLIC_EVENT_TYPES
    assert set(schemas.WEBHOOK_MESSAGE_STATES) == {state.value for state in MessageState}


def test_every_webhook_endpoint_operation_is_served_and_valid_openapi() -> None:
    document = spec.build_spec()

    validate(document)
    assert all(operation in OPERATIONS for operation in WEBHOOK_ENDPOINT_OPERATIONS)
    create = document["paths"]["/v1/webhook_endpoints"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in create["parameters"]
