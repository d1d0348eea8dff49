"""RFC 9457 problem details: the one error shape every HTTP API of the platform answers with.

Clients branch on `code`, a stable snake_case identifier; `title` and `detail` are for people and
may change. Kept free of Flask so a service layer can raise a `Problem` without importing a web
framework; `paykit.web` renders it.
"""

import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

MEDIA_TYPE: Final = "application/problem+json"

_CODE = re.compile(r"[a-z][a-z0-9_]*")
_STANDARD_MEMBERS: Final = frozenset({"type", "title", "status", "detail", "instance", "code"})

# Where the Python 3.11 HTTPStatus name is not the code clients should see.
_CODE_OVERRIDES: Final[Mapping[int, str]] = {
    413: "payload_too_large",
    414: "uri_too_long",
    416: "range_not_satisfiable",
    422: "unprocessable_content",
    500: "internal_error",
}


def code_for_status(status: int) -> str:
    """The default stable code for an HTTP status, e.g. 404 -> "not_found"."""
    if status in _CODE_OVERRIDES:
        return _CODE_OVERRIDES[status]
    try:
        return HTTPStatus(status).name.lower()
    except ValueError:
        return "http_error"


def title_for_status(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP Error"


class Problem(Exception):
    """An error meant for the client, raised anywhere below a view and rendered as problem+json.

    `extra` carries extension members (say `errors` for field validation); `headers` carries
    response headers that belong with the error, like `Retry-After` on a 429.
    """

    def __init__(
        self,
        status: int,
        code: str,
        title: str | None = None,
        detail: str | None = None,
        *,
        type_uri: str = "about:blank",
        instance: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a problem needs an error status (4xx or 5xx), not {status}")
        if not _CODE.fullmatch(code):
            raise ValueError(f"problem code {code!r} must be snake_case")
        clashing = _STANDARD_MEMBERS.intersection(extra or {})
        if clashing:
            raise ValueError(f"extension members may not replace {sorted(clashing)}")
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.title = title or title_for_status(status)
        self.detail = detail
        self.type_uri = type_uri
        self.instance = instance
        self.extra: dict[str, Any] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"Problem(status={self.status}, code={self.code!r})"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        if self.instance is not None:
            body["instance"] = self.instance
        body.update(self.extra)
        return body
