"""``oboptim serve NAME``: the rating page as a command, registered by ``oboptim.cli``."""

from __future__ import annotations

import click

from oboptim._cli_common import storage_option, user_errors

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"  # = oboptim.web._server.DEFAULT_HOST, not imported so that `oboptim --help` stays fast


@click.command()
@click.argument("name")
@storage_option
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on. The loopback default keeps the page on this machine; 0.0.0.0 puts it on "
                   "the network, where anyone with the URL can rate.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@user_errors
def serve_command(name, storage, port, host, open_browser) -> None:
    """Serve a page where a person rates campaign NAME's pending candidates (1-10) in a browser.

    The URL it prints carries a random token; keep it private. Use it with `oboptim run ... --oracle human-web`,
    which waits for the ratings given here.
    """
    from oboptim.web._server import serve

    try:
        serve(storage, name, host=host, port=port, open_browser=open_browser, echo=click.echo,
              warn=lambda line: click.echo(line, err=True))
    except KeyboardInterrupt:
        click.echo("stopped the rating page; every rating given is stored", err=True)
