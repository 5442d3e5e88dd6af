"""What stands between the network and the rating page: the token, the origin check, a body limit, safe headers.

The page's URL carries a random token, and the token is the only credential, so:

- A request is checked from its head alone whenever it can be: a POST's token comes from the ``X-Oboptim-Token``
  header (what the page's script sends) or, failing that, the ``token`` form field, read only once the body is known
  to fit in :data:`MAX_BODY_BYTES` (Flask answers 413 from the ``Content-Length`` header, before reading). A client
  without the token cannot make the server read a large upload.
- A POST never takes the token from its query string (URLs end up in history and logs) nor from the cookie alone
  (another web site could make the rater's browser send it), and a POST whose ``Origin`` or ``Referer`` names
  another origin is refused even with the token.
- GET requests may carry the token in the query string (the printed URL) or the cookie set on the first visit.
- Every answer says: no framing, no content sniffing, no referrer (the URL holds the token), scripts and styles from
  this server's files only, and no caching unless a route chose otherwise.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

import flask

TOKEN_HEADER = "X-Oboptim-Token"
MAX_BODY_BYTES = 8 * 1024  # a rating is a trial id, a number and the token: a few hundred bytes
FORBIDDEN_TEXT = "forbidden: open the page with the URL (and its token) that `oboptim serve` printed\n"
CROSS_ORIGIN_TEXT = "forbidden: ratings are accepted only from the rating page's own origin\n"
TOO_LARGE_TEXT = f"request too large: a rating takes a few hundred bytes (limit {MAX_BODY_BYTES})\n"
READ_METHODS = ("GET", "HEAD")

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def guard_app(app: flask.Flask, token: str) -> None:
    """Install the checks and headers above on ``app``."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    guard = TokenGuard(token)
    app.before_request(guard.check)
    app.after_request(guard.remember)
    app.after_request(add_security_headers)
    app.register_error_handler(413, lambda error: plain_text(TOO_LARGE_TEXT, 413))


class TokenGuard:
    """Refuses every request without the token; remembers a valid ``?token=`` in a cookie for later GETs."""

    def __init__(self, token: str) -> None:
        self.token = token
        # One cookie name per server (its token's digest), so two pages on the same host do not overwrite each other.
        self.cookie_name = "oboptim_" + hashlib.sha256(token.encode()).hexdigest()[:16]

    def check(self) -> flask.Response | None:
        request = flask.request
        if request.method in READ_METHODS:
            given = request.headers.get(TOKEN_HEADER) or request.args.get("token") or request.cookies.get(
                self.cookie_name)
        elif not same_origin(request):
            return plain_text(CROSS_ORIGIN_TEXT, 403)
        else:  # the header first: the form is parsed only when the body fits (413 otherwise, unread)
            given = request.headers.get(TOKEN_HEADER) or request.form.get("token")
        if not given or not secrets.compare_digest(given.encode(), self.token.encode()):
            return plain_text(FORBIDDEN_TEXT, 403)
        return None

    def remember(self, response: flask.Response) -> flask.Response:
        if response.status_code != 403 and flask.request.cookies.get(self.cookie_name) != self.token:
            response.set_cookie(self.cookie_name, self.token, httponly=True, samesite="Strict")
        return response


def same_origin(request: flask.Request) -> bool:
    """False when the request's ``Origin`` (or, without one, its ``Referer``) is not this server's origin.

    A request with neither (a script, ``curl``) passes: it still needs the token. ``Origin: null`` (a sandboxed
    frame, a redirect from elsewhere) does not.
    """
    own = f"{request.scheme}://{request.host}".lower()
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip().lower() == own
    referrer = request.headers.get("Referer")
    if referrer is not None:
        parts = urlsplit(referrer.strip())
        return f"{parts.scheme}://{parts.netloc}".lower() == own
    return True


def add_security_headers(response: flask.Response) -> flask.Response:
    """The headers every answer carries; ``no-store`` unless the route set its own cache policy (candidate images)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if "Cache-Control" not in response.headers:
        response.cache_control.no_store = True
    return response


def plain_text(text: str, status: int) -> flask.Response:
    return flask.Response(text, status=status, mimetype="text/plain")


__all__ = ["MAX_BODY_BYTES", "TOKEN_HEADER", "TokenGuard", "guard_app", "same_origin"]
