"""Signing in and out.

Merchants sign in with their API key's client credentials: the dashboard exchanges them at the
gateway for a token (``POST /v1/auth/token``), keeps the token in the server-side session and
forgets the secret. Operators sign in with an operator token (``gateway admin-token``, or
``localcluster token --admin`` on a local cluster), verified against the gateway's JWKS for the
admin audience: the dashboard holds no standing operator credential of its own, and an
operator's session ends when the token does. Either session ends after the idle timeout, at
the token's expiry, or on sign-out, which deletes it server-side.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from dashboard_service.adapters.platform_api import ApiProblem, client_credentials_token
from dashboard_service.adapters.sessions import EXPIRES_AT, ServerSession
from dashboard_service.domain.explanations import explain_problem
from dashboard_service.entrypoints.access import (
    MERCHANT,
    OPERATOR,
    anonymous_gateway,
    safe_next,
    service,
)
from dashboard_service.entrypoints.forms import ActionForm, OperatorSignInForm, SignInForm
from paykit.auth.audiences import OPERATOR_SCOPES
from paykit.auth.jwt import Claims, InvalidToken

auth = Blueprint("auth", __name__)


def _open_session(role: str, token: str, claims: Claims) -> None:
    assert isinstance(session, ServerSession)
    session.clear()
    session.regenerate()
    session.update(
        role=role,
        token=token,
        subject=claims.subject,
        scopes=sorted(claims.scopes),
        **{EXPIRES_AT: claims.expires_at.timestamp()},
    )


@auth.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str | tuple[str, int]:
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("sign_in.html", form=form)
    try:
        issued = client_credentials_token(
            anonymous_gateway(), form.client_id.data or "", form.client_secret.data or ""
        )
    except ApiProblem as problem:
        explanation = explain_problem(problem.status, problem.body, reference=problem.request_id)
        return render_template("sign_in.html", form=form, explanation=explanation), problem.status
    claims = service().merchant_tokens.verify(issued.access_token)
    _open_session(MERCHANT, issued.access_token, claims)
    return redirect(safe_next(request.args.get("next"), url_for("merchant.payments")))


@auth.route("/admin/sign-in", methods=["GET", "POST"])
def operator_sign_in() -> Response | str | tuple[str, int]:
    form = OperatorSignInForm()
    if not form.validate_on_submit():
        return render_template("admin/sign_in.html", form=form)
    token = "".join((form.token.data or "").split())
    try:
        claims = service().operator_tokens.verify(token)
    except InvalidToken as error:
        reason = {
            "expired": "The token has expired.",
            "invalid_audience": "It is not an operator token (a merchant's token, perhaps).",
        }.get(error.code, "It is not a token this platform signed.")
        return render_template("admin/sign_in.html", form=form, refused=reason), 401
    if not claims.scopes & set(OPERATOR_SCOPES):
        refused = "The token carries none of the operators' scopes."
        return render_template("admin/sign_in.html", form=form, refused=refused), 403
    _open_session(OPERATOR, token, claims)
    return redirect(safe_next(request.args.get("next"), url_for("admin.dead_letter_queues")))


@auth.post("/sign-out")
def sign_out() -> Response:
    ActionForm()  # CSRFProtect has checked the token before the view runs
    was_operator = session.get("role") == OPERATOR
    assert isinstance(session, ServerSession)
    session.clear()
    session.regenerate()
    flash("You are signed out.")
    return redirect(url_for("auth.operator_sign_in" if was_operator else "auth.sign_in"))


@auth.get("/")
def home() -> Response:
    if session.get("role") == OPERATOR:
        return redirect(url_for("admin.dead_letter_queues"))
    return redirect(url_for("merchant.payments"))
