"""Calls to the platform's HTTP APIs, with every failure turned into one ``PayctlError`` line.

A problem+json answer shows its title, detail and code; an address where nothing listens is
named, so a wrong ``PAYCTL_*_URL`` is obvious.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from payctl.errors import PayctlError, problem_line


@dataclass(frozen=True)
class Api:
    """One API (the gateway, or a service's admin API) as one bearer of a token sees it."""

    name: str
    base_url: str
    token: str
    timeout: float
    unauthorised_hint: str = ""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).json()

    def get_text(self, path: str) -> str:
        return self.request("GET", path).text

    def post(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response = self.request(
            "POST", path, json=body if body is not None else {}, headers=headers
        )
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
        url = f"{self.base_url}{path}"
        wanted = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = httpx.request(
                method,
                url,
                params=wanted,
                json=json,
                headers={**self._authorisation(), **(headers or {})},
                timeout=self.timeout,
            )
        except httpx.ConnectError as error:
            raise PayctlError(f"cannot reach the {self.name} at {self.base_url}: {error}") from None
        except httpx.TimeoutException:
            raise PayctlError(
                f"the {self.name} at {self.base_url} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise PayctlError(f"{method} {url} failed: {error}") from None
        if response.status_code >= 400:
            raise PayctlError(self._failure(response))
        return response

    def _authorisation(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _failure(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        line = f"{self.name}: {problem_line(response.status_code, body)}"
        if response.status_code == 401 and self.unauthorised_hint:
            line += f" ({self.unauthorised_hint})"
        return line
