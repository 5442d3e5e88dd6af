"""`oboptim serve NAME` as a click command: the printed URL with its token, and one-line errors."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import click
import pytest
from click.testing import CliRunner
from werkzeug.serving import BaseWSGIServer

from oboptim.web._cli_serve import serve_command

pytestmark = [pytest.mark.process, pytest.mark.server]


@click.group()
def cli():
    """A stand-in for oboptim's main group."""


cli.add_command(serve_command, "serve")


@pytest.fixture
def url(one_point_campaign_url):
    return one_point_campaign_url


def test_prints_the_url_with_a_fresh_token_and_stops_on_ctrl_c(url, monkeypatch):
    served = []

    def interrupted(server, poll_interval=0.5):
        served.append(server.port)
        raise KeyboardInterrupt

    monkeypatch.setattr(BaseWSGIServer, "serve_forever", interrupted)
    outputs = [CliRunner().invoke(cli, ["serve", "web", "--storage", url, "--port", "0"]) for _ in range(2)]
    for result, port in zip(outputs, served):
        assert result.exit_code == 0, result.output
        assert f"rating page of campaign 'web': http://127.0.0.1:{port}/?token=" in result.output
        assert "stopped the rating page" in result.output
        assert "warning" not in result.output  # loopback: the page stays on this machine
    tokens = [result.output.split("?token=")[1].split()[0] for result in outputs]
    assert tokens[0] != tokens[1] and min(len(t) for t in tokens) >= 32


def test_unknown_campaign_is_one_line(url):
    result = CliRunner().invoke(cli, ["serve", "nope", "--storage", url, "--port", "0"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: no campaign 'nope' in {url}; known: web"]


def test_missing_database_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "web", "--storage", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: ")


def test_a_taken_port_is_one_line(url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "web", "--storage", url, "--port", str(port)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: port {port} on 127.0.0.1 is in use: pick another with --port, "
                                     "or --port 0 for a free one")


def test_the_command_module_is_light_to_import():
    """cli.py imports it for every `oboptim` call, `--help` included."""
    code = "import sys, oboptim.web._cli_serve; print(sorted({'flask', 'torch', 'sqlalchemy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_host_default_matches_the_server():
    from oboptim.web import _cli_serve as cli_serve
    from oboptim.web import _server as server

    assert cli_serve.DEFAULT_HOST == server.DEFAULT_HOST == "127.0.0.1"


def test_listening_on_every_address_warns_and_prints_a_url_for_other_machines(url):
    """A real `oboptim serve --host 0.0.0.0`: a warning on stderr, and every URL it prints answers with the token."""
    command = [sys.executable, "-m", "oboptim", "serve", "web", "--storage", url, "--host", "0.0.0.0", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        lines = []
        for line in process.stdout:  # the server prints its URLs, then serves
            lines.append(line)
            if "Ctrl-C" in line:
                break
        urls = [word for line in lines for word in line.split() if word.startswith("http://")]
        hosts = {urllib.parse.urlsplit(page).hostname for page in urls}
        assert "127.0.0.1" in hosts and hosts - {"127.0.0.1", "localhost", "0.0.0.0"}, lines
        for page in urls:
            state = page.replace("/?token=", "/api/state?token=")
            with urllib.request.urlopen(state, timeout=10) as response:
                assert json.load(response)["campaign"] == "web"
    finally:
        os.kill(process.pid, signal.SIGINT)
        _, errors = process.communicate(timeout=30)
        watchdog.cancel()
    assert "warning: the rating page listens on 0.0.0.0" in errors
    assert "reachable from the network" in errors and "anyone with the URL can rate" in errors
