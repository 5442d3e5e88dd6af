"""The human rating page (``oboptim serve NAME``): a person rates a campaign's pending candidates in a browser.

    from oboptim.web import serve
    serve("sqlite:///runs.db", "portraits")          # prints http://127.0.0.1:PORT/?token=...

Pair it with ``oboptim run TASK --name portraits --oracle human-web`` (see
:class:`oboptim.oracles.human_web.WebHumanOracle`), which waits for the ratings given on the page; or ask for
candidates with ``oboptim ask`` and rate them on the page at any pace.

Built on Flask and Werkzeug (well-maintained, by the Pallets project); pictures with Pillow and matplotlib.
"""

from oboptim.web.app import create_app
from oboptim.web.board import RATING_MAX, RATING_MIN, WEB_RATER, RatingBoard, RatingError, UnknownCampaign
from oboptim.web.server import DEFAULT_PORT, ServeError, make_rating_server, serve

__all__ = [
    "DEFAULT_PORT",
    "RATING_MAX",
    "RATING_MIN",
    "WEB_RATER",
    "RatingBoard",
    "RatingError",
    "ServeError",
    "UnknownCampaign",
    "create_app",
    "make_rating_server",
    "serve",
]
