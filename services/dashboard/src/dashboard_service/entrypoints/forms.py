"""The dashboard's forms. Every one that changes something is a POST carrying a CSRF token
(Flask-WTF's ``CSRFProtect`` refuses a POST without a valid one before any view runs); the
payments filter is a GET form, which changes nothing and so carries none."""

from __future__ import annotations

# Flask-WTF and WTForms ship no type information: the forms subclass an untyped class.
from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import (  # type: ignore[import-untyped]
    DateField,
    HiddenField,
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp  # type: ignore[import-untyped]

IDEMPOTENCY_KEY = r"^[A-Za-z0-9_-]{16,64}$"


class SignInForm(FlaskForm):  # type: ignore[misc]
    client_id = StringField("Client ID", validators=[DataRequired(), Length(max=200)])
    client_secret = PasswordField("Client secret", validators=[DataRequired(), Length(max=200)])


class OperatorSignInForm(FlaskForm):  # type: ignore[misc]
    token = TextAreaField("Operator token", validators=[DataRequired(), Length(max=8192)])


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something and sends nothing but its CSRF token (sign-out, verify)."""


class RefundForm(FlaskForm):  # type: ignore[misc]
    amount = StringField("Amount to refund", validators=[Optional(), Length(max=20)])
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=255)])


class ConfirmRefundForm(FlaskForm):  # type: ignore[misc]
    amount = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,15}$")])
    reason = HiddenField(validators=[Optional(), Length(max=255)])
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(IDEMPOTENCY_KEY)])


class ReplayForm(FlaskForm):  # type: ignore[misc]
    spot = HiddenField(validators=[Optional(), Regexp(r"^\d{1,6}:\d{1,19}$")])


class ReconcileForm(FlaskForm):  # type: ignore[misc]
    day = DateField("Day (UTC)", validators=[DataRequired()])
