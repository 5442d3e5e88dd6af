"""The human rating page (``oboptim serve NAME``): a person rates a campaign's pending candidates in a browser.

    from oboptim.web import serve
    serve("sqlite:///runs.db", "portraits")          # prints http://127.0.0.1:PORT/?token=...

Pair it with ``oboptim run TASK --name portraits --oracle human-web`` (see
:class:`oboptim.oracles.human_web.WebHumanOracle`), which waits for the ratings given on the page; or ask for
candidates with ``oboptim ask`` and rate them on the page at any pace.

Built on Flask and Werkzeug (well-maintained, by the Pallets project); pictures with Pillow and matplotlib.
"""

import importlib

# Lazy, like `oboptim` itself: cli.py imports oboptim.web.cli_serve, and `oboptim --help` should not load Flask,
# torch or the storage layer.
_EXPORTS = {
    "create_app": "oboptim.web.app",
    "RATING_MAX": "oboptim.web.board",
    "RATING_MIN": "oboptim.web.board",
    "WEB_RATER": "oboptim.web.board",
    "RatingBoard": "oboptim.web.board",
    "RatingError": "oboptim.web.board",
    "UnknownCampaign": "oboptim.web.board",
    "ServeError": "oboptim.web.server",
    "make_rating_server": "oboptim.web.server",
    "serve": "oboptim.web.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'oboptim.web' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
