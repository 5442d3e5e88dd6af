"""The real server (werkzeug, loopback, free port): the token over HTTP, logs that never show it, and bodies that
are refused before they are sent."""

import logging
import socket
import threading
import urllib.error
import urllib.request

import pytest

from oboptim.web import make_rating_server

pytestmark = pytest.mark.server


@pytest.fixture
def running(one_point_campaign_url):
    """``(base URL, token)`` of a rating server running in a thread."""
    url = one_point_campaign_url
    server, page_url = make_rating_server(url, "web", host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    base, _, token = page_url.partition("/?token=")
    yield base, token
    server.shutdown()
    server.server_close()
    server.app.extensions["oboptim_board"].close()
    thread.join(timeout=10)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_url_is_loopback_with_a_long_token(running):
    base, token = running
    assert base.startswith("http://127.0.0.1:") and len(token) >= 32


def test_token_is_required_over_http_and_never_logged(running, caplog):
    base, token = running
    caplog.set_level(logging.INFO, logger="werkzeug")
    assert status_of(f"{base}/api/state?token={token}") == 200
    assert status_of(f"{base}/api/state?token=guess") == 403
    assert status_of(f"{base}/api/state") == 403
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("GET /api/state 403") == 2  # refusals are logged, successes (polling) are not
    assert "/api/state 200" not in logged
    assert token not in logged and "guess" not in logged


HUGE_BODY_BYTES = 200_000_000


def refusal_of_a_huge_post(base: str, headers: dict[str, str]) -> str:
    """The status line the server answers a 200 MB POST with, sending only its head (the body never comes).

    A server that reads the body before answering never answers: the read on the socket then times out.
    """
    host, port = base.removeprefix("http://").rsplit(":", 1)
    head = {"Host": f"{host}:{port}", "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(HUGE_BODY_BYTES), **headers}
    request = "POST /api/rate HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request.encode())
        return connection.makefile("rb").readline().decode().strip()


@pytest.mark.parametrize(("headers", "status"), [({}, 413), ({"X-Oboptim-Token": "guess"}, 403),
                                                 ({"X-Oboptim-Token": None}, 413)])
def test_a_huge_post_is_refused_before_its_body_is_sent(running, headers, status):
    base, token = running
    headers = {name: value or token for name, value in headers.items()}
    assert refusal_of_a_huge_post(base, headers).split()[1] == str(status)
