"""Server-side sessions in Redis: the cookie carries only a random id.

Why not Flask's signed cookie: the session holds the merchant's bearer token, which must not
sit in the browser, and signing out must end the session everywhere, which a copied signed
cookie would outlive. Here signing out deletes the record, so the same cookie presented again
opens nothing.

- The id is 256 random bits; Redis keeps it only as its SHA-256, so a dump of Redis gives no
  cookie that opens a session.
- The record expires after the idle timeout, renewed by every request (a sliding timeout), and
  never later than ``expires_at`` in the session (the token's expiry), so a session cannot
  outlive the token it carries.
- Cookie: HttpOnly, SameSite=Strict, Secure on HTTPS (or always, if configured), no Expires
  (it ends with the browser too). Signing in issues a new id (no session fixation).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import redis
from flask import Flask, Request, request
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict
from werkzeug.wrappers import Response

KEY_PREFIX: Final = "dashboard:session:"
SECRET_KEY_NAME: Final = "dashboard:secret-key"  # noqa: S105 (where it is, not what)
EXPIRES_AT: Final = "expires_at"


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """A session dict that knows its id (None until first saved) and whether it changed."""

    def __init__(self, initial: Mapping[str, Any] | None = None, sid: str | None = None) -> None:
        def changed(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, changed)
        self.sid = sid
        self.modified = False
        self.renew = False

    def regenerate(self) -> None:
        """Give the session a new id at the next save, dropping the old record (sign-in)."""
        self.renew = True
        self.modified = True


class RedisSessionInterface(SessionInterface):
    def __init__(
        self, client: redis.Redis, idle_timeout: timedelta, *, always_secure: bool = False
    ) -> None:
        self.redis = client
        self.idle_timeout = idle_timeout
        self.always_secure = always_secure

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid:
            return ServerSession()
        raw = self.redis.get(_key(sid))
        if raw is None:
            return ServerSession()
        data = json.loads(raw)
        if EXPIRES_AT in data and float(data[EXPIRES_AT]) <= time.time():
            self.redis.delete(_key(sid))
            return ServerSession()
        return ServerSession(data, sid)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        name = self.get_cookie_name(app)
        domain, path = self.get_cookie_domain(app), self.get_cookie_path(app)
        secure = self.always_secure or request.is_secure
        if not session:
            if session.sid is not None:
                self.redis.delete(_key(session.sid))
                response.delete_cookie(
                    name, path, domain, secure=secure, httponly=True, samesite="Strict"
                )
            return
        if session.renew and session.sid is not None:
            self.redis.delete(_key(session.sid))
            session.sid = None
        ttl = self._ttl(session)
        if ttl <= 0:
            return
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
            response.set_cookie(
                name,
                session.sid,
                path=path,
                domain=domain,
                secure=secure,
                httponly=True,
                samesite="Strict",
            )
        self.redis.set(_key(session.sid), json.dumps(dict(session)), ex=ttl)
        response.vary.add("Cookie")

    def _ttl(self, session: ServerSession) -> int:
        """Seconds the record lives: the idle timeout, cut short by the token's expiry."""
        idle = int(self.idle_timeout.total_seconds())
        if EXPIRES_AT not in session:  # not signed in yet: a sign-in form's CSRF token
            return idle
        return min(idle, int(float(session[EXPIRES_AT]) - time.time()))


def shared_secret_key(client: redis.Redis) -> str:
    """The key every worker signs CSRF tokens with, made by whichever starts first."""
    client.set(SECRET_KEY_NAME, secrets.token_urlsafe(48), nx=True)
    found = client.get(SECRET_KEY_NAME)
    if not isinstance(found, bytes):
        raise RuntimeError(f"Redis lost {SECRET_KEY_NAME} as it was set")
    return found.decode()


def _key(sid: str) -> str:
    return KEY_PREFIX + hashlib.sha256(sid.encode()).hexdigest()
