"""Serving the rating page: Werkzeug's threaded WSGI server on a loopback port, with a fresh random token.

Another ``--host`` (``0.0.0.0``: every address) puts the page on the network, where anyone who has its URL can
rate; :func:`serve` says so, and prints a URL other machines can use next to the loopback one.
"""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
import webbrowser
from collections.abc import Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from oboptim._text import print_to_stderr
from oboptim.errors import OboptimError
from oboptim.web._app import create_app

DEFAULT_HOST = "127.0.0.1"
TOKEN_BYTES = 24
EVERY_ADDRESS = ("", "0.0.0.0", "::")
ROUTE_PROBE = ("192.0.2.1", 9)  # TEST-NET-1 (RFC 5737): a UDP connect only picks the outgoing interface, sends nothing


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
    return server, _page_url(_url_host(host), server.port, token)


def serve(storage_url: str | None, name: str, host: str = DEFAULT_HOST, port: int = 0, open_browser: bool = False,
          *, echo: Callable[[str], None] = print, warn: Callable[[str], None] | None = None) -> None:
    """Serve campaign ``name``'s rating page until interrupted, after printing its URL (with a new random token).

    ``echo`` prints the URLs, ``warn`` (standard error by default) the warning that a ``host`` other than loopback
    makes the page reachable from the network. Ratings are written as they are given, so stopping the server loses
    nothing.
    """
    server, url = make_rating_server(storage_url, name, host=host, port=port)
    echo(f"rating page of campaign {name!r}: {url}")
    if not is_loopback(host):
        token = url.partition("?token=")[2]
        for address in network_hosts(host):
            echo(f"  from other machines: {_page_url(address, server.port, token)}")
        (warn or print_to_stderr)(
            f"warning: the rating page listens on {host or '0.0.0.0'}, so it is reachable from the network: anyone "
            "with the URL can rate. Use --host 127.0.0.1 to keep it on this machine.")
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is reachable from this machine only."""
    if host in EVERY_ADDRESS:
        return False
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None)}
    except OSError:
        return False
    return all(_is_loopback_address(address) for address in addresses)


def network_hosts(host: str) -> list[str]:
    """For a server listening on every address (``host`` 0.0.0.0 or ::), names by which other machines may reach it.

    This machine's name, and the address of its interface that routes outwards: the first works where names
    resolve, the second where they do not. Another ``host`` is itself the answer, and is already in the page's URL.
    """
    if host not in EVERY_ADDRESS:
        return []
    hosts = [socket.gethostname(), "" if host == "::" else _outgoing_address()]
    return list(dict.fromkeys(h for h in hosts if h and h != "localhost" and not _is_loopback_address(h)))


def _outgoing_address() -> str:
    """This machine's IPv4 address on its default route, or "" when there is none (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(ROUTE_PROBE)
            return probe.getsockname()[0]
    except OSError:
        return ""


def _is_loopback_address(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback  # an IPv6 scope (fe80::1%eth0) is no part of it
    except ValueError:
        return False


def _page_url(url_host: str, port: int, token: str) -> str:
    return f"http://{url_host}:{port}/?token={token}"


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"  # listening everywhere: loopback reaches it from this machine
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
