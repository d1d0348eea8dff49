"""HTTP client of the ledger's operator API: a period's sealed transactions with their entries.

``GET /admin/transactions`` needs the admin audience and ``ledger:admin``; the token comes from
the caller (an operator's own, relayed; or one the CLI was given), fresh for every listing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from settlement_service.service_layer.reconciliation_ports import SourceUnavailable

PAGE_SIZE: Final = 200  # the ledger's largest page


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class HttpLedger:
    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        timeout_seconds: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        timeout = httpx.Timeout(timeout_seconds, connect=min(2.0, timeout_seconds))
        self.client = client or httpx.Client(base_url=base_url, timeout=timeout)
        self.token = token

    def close(self) -> None:
        self.client.close()

    def transactions(self, start: datetime, end: datetime, kinds: Sequence[str]) -> list[Any]:
        """Every page, in seal order."""
        found: list[Any] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int | list[str]] = {
                "from": utc_text(start),
                "to": utc_text(end),
                "limit": PAGE_SIZE,
                "kind": list(kinds),
            }
            if cursor:
                params["cursor"] = cursor
            page = self._get("/admin/transactions", params)
            found.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def _get(self, path: str, params: dict[str, str | int | list[str]]) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        try:
            response = self.client.get(path, params=params, headers=headers)
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"ledger unreachable on {path}: {error}") from error
        if response.status_code != 200:
            raise SourceUnavailable(
                f"ledger answered {response.status_code} to {path}: {response.text[:200]}"
            )
        return response.json()
