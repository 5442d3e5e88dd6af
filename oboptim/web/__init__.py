"""The human rating page (``oboptim serve NAME``): a person rates a campaign's pending candidates in a browser.

    from oboptim.web import serve
    serve("sqlite:///runs.db", "portraits")          # prints http://127.0.0.1:PORT/?token=...

Pair it with ``oboptim run TASK --name portraits --oracle human-web`` (see :class:`oboptim.oracles.WebHumanOracle`),
which waits for the ratings given on the page; or ask for candidates with ``oboptim ask`` and rate them on the page
at any pace. Built on Flask and Werkzeug (by the Pallets project); pictures with Pillow and matplotlib.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.web._app": ["create_app"],
    "oboptim.web._board": ["RATING_MAX", "RATING_MIN", "WEB_RATER", "RatingBoard", "RatingError", "UnknownCampaign"],
    "oboptim.web._render": ["point_png"],
    "oboptim.web._server": ["ServeError", "make_rating_server", "serve"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.web._app import create_app
    from oboptim.web._board import RATING_MAX, RATING_MIN, WEB_RATER, RatingBoard, RatingError, UnknownCampaign
    from oboptim.web._render import point_png
    from oboptim.web._server import ServeError, make_rating_server, serve
