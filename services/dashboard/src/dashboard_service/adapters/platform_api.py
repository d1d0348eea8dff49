"""The platform's HTTP APIs as the dashboard calls them: the gateway's public ``/v1`` with the
signed-in merchant's token, and the ledger's and settlement's admin APIs with an operator's.

Every failure becomes one of two types a view can explain: `ApiProblem` (the API answered
4xx/5xx, with its problem+json body) and `ApiUnreachable` (nothing answered). The request id of
the dashboard's own request goes along as ``X-Request-Id``, so one id follows a page through the
gateway and the services' logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from paykit.web import REQUEST_ID_HEADER


class ApiError(Exception):
    """Something a page could not get from an API."""


@dataclass
class ApiProblem(ApiError):
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None

    @property
    def code(self) -> str | None:
        code = self.body.get("code")
        return str(code) if code else None

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.code or ''}".strip()


@dataclass
class ApiUnreachable(ApiError):
    """No answer: the address refused, or the answer did not come in time."""

    api: str
    reason: str

    def __str__(self) -> str:
        return f"{self.api}: {self.reason}"


@dataclass(frozen=True)
class PlatformApi:
    """One API as one bearer of a token sees it. ``http`` is shared (pooled connections)."""

    name: str
    base_url: str
    http: httpx.Client
    token: str = ""
    request_id: str | None = None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def get_text(self, path: str) -> str:
        return self.request("GET", path).text

    def post(
        self, path: str, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self.request("POST", path, json=dict(body), headers=headers)
        return response.json() if response.content else {}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = {**self._identity(), **(headers or {})}
        wanted = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = self.http.request(
                method, f"{self.base_url}{path}", params=wanted, json=json, headers=sent
            )
        except httpx.TimeoutException:
            raise ApiUnreachable(self.name, "did not answer in time") from None
        except httpx.HTTPError as error:
            raise ApiUnreachable(self.name, type(error).__name__) from None
        if response.status_code >= 400:
            raise ApiProblem(
                response.status_code,
                _problem_body(response),
                response.headers.get(REQUEST_ID_HEADER),
            )
        return response

    def _identity(self) -> dict[str, str]:
        found = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.request_id:
            found[REQUEST_ID_HEADER] = self.request_id
        return found


def _problem_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    retry_after = response.headers.get("Retry-After")
    return {**body, "retry_after": retry_after} if retry_after else body


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def client_credentials_token(
    gateway: PlatformApi, client_id: str, client_secret: str
) -> IssuedToken:
    """``POST /v1/auth/token``: the merchant's credentials are sent once and never kept."""
    answer = gateway.post(
        "/v1/auth/token", {"client_id": client_id, "client_secret": client_secret}
    )
    return IssuedToken(str(answer["access_token"]), int(answer.get("expires_in") or 0))
