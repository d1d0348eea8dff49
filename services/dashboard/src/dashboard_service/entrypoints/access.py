"""Who is signed in, and the APIs a page may call as them.

A session is a merchant's (the gateway's token for it, from its client credentials) or an
operator's (an operator token it signed in with). Pages ask for one or the other; anyone else is
sent to the matching sign-in page, and comes back to the page asked for after signing in.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from dashboard_service.adapters.platform_api import PlatformApi
from dashboard_service.bootstrap import DashboardService

MERCHANT: Final = "merchant"
OPERATOR: Final = "operator"
F = TypeVar("F", bound=Callable[..., Any])


class NotConfigured(Exception):
    """A page's source (an admin API, Kafka) is not configured on this dashboard."""


def service() -> DashboardService:
    return cast(DashboardService, current_app.extensions["dashboard_service"])


def requires(role: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if session.get("role") != role:
                return _to_sign_in(role)
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def _to_sign_in(role: str) -> Response:
    if session.get("role"):
        flash("That page is for another kind of account: sign in with one that may see it.")
    else:
        flash("Sign in to see that page.")
    endpoint = "auth.operator_sign_in" if role == OPERATOR else "auth.sign_in"
    return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: an absolute or scheme-relative URL is an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _api(name: str, base_url: str | None, *, as_signed_in: bool = True) -> PlatformApi:
    if not base_url:
        raise NotConfigured(name)
    return PlatformApi(
        name,
        base_url,
        service().http,
        token=str(session.get("token") or "") if as_signed_in else "",
        request_id=g.get("request_id"),
    )


def anonymous_gateway() -> PlatformApi:
    """The gateway without a token: for the token request itself."""
    return _api("gateway", service().settings.gateway_url, as_signed_in=False)


def gateway() -> PlatformApi:
    """The public API as the signed-in merchant (or nobody, before sign-in)."""
    return _api("gateway", service().settings.gateway_url)


def ledger_admin() -> PlatformApi:
    return _api("ledger", service().settings.ledger_url)


def settlement_admin() -> PlatformApi:
    return _api("settlement service", service().settings.settlement_url)
