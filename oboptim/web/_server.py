"""Serving the rating page: Werkzeug's threaded WSGI server on a loopback port, with a fresh random token."""

from __future__ import annotations

import errno
import secrets
import socket
import webbrowser
from collections.abc import Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from oboptim.errors import OboptimError
from oboptim.web._app import create_app

DEFAULT_HOST = "127.0.0.1"
TOKEN_BYTES = 24


class ServeError(OboptimError):
    """The rating page cannot be served (e.g. its port is taken)."""


class QuietRequestHandler(WSGIRequestHandler):
    """Logs only refused requests (403) and server errors, without their query string (which may hold the token).

    The page polls every few seconds, and the rater's own mistakes are shown on the page; neither is logged.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = getattr(code, "value", code)
        if str(status).isdigit() and (int(status) == 403 or int(status) >= 500):
            self.log("info", "%s %s %s", self.command, self.path.split("?", 1)[0], status)


def make_rating_server(storage_url: str | None, name: str, host: str = DEFAULT_HOST, port: int = 0,
                       token: str | None = None) -> tuple[BaseWSGIServer, str]:
    """A ready (not yet serving) server for campaign ``name``'s rating page, and the page's URL with its token.

    ``port=0`` picks a free port. Call ``serve_forever()`` (e.g. in a thread) and ``shutdown()`` /
    ``server_close()`` to stop; the app's storage is in ``server.app.extensions["oboptim_board"]``.
    """
    token = token or secrets.token_urlsafe(TOKEN_BYTES)
    app = create_app(storage_url, name, token)
    try:
        listening = _listen(host, port)
    except ServeError:
        app.extensions["oboptim_board"].close()
        raise
    with listening:  # werkzeug duplicates the socket; ours is closed after
        server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler,
                             fd=listening.fileno())
    return server, f"http://{_url_host(host)}:{server.port}/?token={token}"


def serve(storage_url: str | None, name: str, host: str = DEFAULT_HOST, port: int = 0, open_browser: bool = False,
          *, echo: Callable[[str], None] = print) -> None:
    """Serve campaign ``name``'s rating page until interrupted, after printing its URL (with a new random token).

    Ratings are written as they are given, so stopping the server loses nothing.
    """
    server, url = make_rating_server(storage_url, name, host=host, port=port)
    echo(f"rating page of campaign {name!r}: {url}")
    echo("anyone with this URL can rate; press Ctrl-C to stop")
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.app.extensions["oboptim_board"].close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so that a taken port is a one-line error (werkzeug would exit the process)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is in use: pick another with --port, or --port 0 for a free "
                             "one") from None
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): check --host and --port") from None


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"  # listening everywhere: loopback reaches it from this machine
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
