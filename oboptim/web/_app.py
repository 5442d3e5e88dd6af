"""The rating page as a Flask application: routes, the token check, JSON answers.

Flask (with Werkzeug and Jinja, all maintained by the Pallets project) does the HTTP work: routing, form and
cookie parsing, templates with autoescaping. This module only maps requests to :class:`RatingBoard` calls.

Every route, static files included, needs the server's random token: ``?token=...`` in the URL, the ``token`` form
field or the ``X-Oboptim-Token`` header; GET requests may instead carry the cookie set on the first visit. POST
requests must name the token explicitly (a cookie alone is not enough), so another web site cannot post ratings
through the rater's browser. Without a valid token every route answers 403.

Routes:
    GET  /                    the page: progress and the pending trials
    GET  /trials              the list of pending trials alone (HTML), which the page reloads when it changes
    GET  /api/state           progress as JSON; the page polls it
    POST /api/rate            trial_id, rating (1-10) -> JSON; errors: 400 bad rating, 404 unknown trial,
                              409 already finished
    POST /api/skip            trial_id -> JSON; the trial stays pending and moves to the end of the list
    GET  /trial/<id>.png      the candidate as a picture (404 when its shape has none)
    GET  /favicon.ico         empty (204), so that browsers stop asking
"""

from __future__ import annotations

import hashlib
import secrets

import flask

from oboptim.images._pictures import IMAGE, NUMBERS, POINT_2D, candidate_kind, image_png
from oboptim.web._board import RatingBoard, RatingError
from oboptim.web._render import point_png

TOKEN_HEADER = "X-Oboptim-Token"
POLL_MILLISECONDS = 2000
FORBIDDEN_TEXT = "forbidden: open the page with the URL (and its token) that `oboptim serve` printed\n"


def create_app(storage_url: str | None, campaign_name: str, token: str) -> flask.Flask:
    """The rating page of campaign ``campaign_name`` in the database at ``storage_url``, guarded by ``token``.

    Raises:
        UnknownCampaign: the database holds no such campaign (StorageNotFound etc. when there is no database).
    """
    if not token:
        raise ValueError("the rating page needs a non-empty token (e.g. secrets.token_urlsafe())")
    board = RatingBoard.open(storage_url, campaign_name)
    app = flask.Flask(__name__)  # templates/ and static/ sit beside this module
    app.extensions["oboptim_board"] = board
    guard = TokenGuard(token)
    app.before_request(guard.check)
    app.after_request(guard.remember)
    app.register_error_handler(RatingError, _rating_error)
    _add_routes(app, board, token)
    return app


class TokenGuard:
    """Refuses every request without the token; remembers a valid ``?token=`` in a cookie for later GETs."""

    def __init__(self, token: str) -> None:
        self.token = token
        # One cookie name per server (its token's digest), so two pages on the same host do not overwrite each other.
        self.cookie_name = "oboptim_" + hashlib.sha256(token.encode()).hexdigest()[:16]

    def check(self) -> flask.Response | None:
        request = flask.request
        given = request.headers.get(TOKEN_HEADER) or request.args.get("token") or request.form.get("token")
        if not given and request.method in ("GET", "HEAD"):
            given = request.cookies.get(self.cookie_name)
        if not given or not secrets.compare_digest(given.encode(), self.token.encode()):
            return flask.Response(FORBIDDEN_TEXT, status=403, mimetype="text/plain")
        return None

    def remember(self, response: flask.Response) -> flask.Response:
        if response.status_code != 403 and flask.request.cookies.get(self.cookie_name) != self.token:
            response.set_cookie(self.cookie_name, self.token, httponly=True, samesite="Strict")
        return response


def _add_routes(app: flask.Flask, board: RatingBoard, token: str) -> None:
    def trial_cards() -> dict:
        pending = board.pending()
        progress = board.progress(pending)
        return dict(trials=pending, progress=progress, token=token, campaign=board.campaign.name,
                    NUMBERS=NUMBERS, POINT_2D=POINT_2D, version=progress.rated)

    @app.get("/")
    def page():
        return flask.render_template("page.html", poll_milliseconds=POLL_MILLISECONDS, **trial_cards())

    @app.get("/trials")
    def trials():
        return flask.render_template("trials.html", **trial_cards())

    @app.get("/api/state")
    def state():
        return {"campaign": board.campaign.name, **board.progress().as_json()}

    @app.post("/api/rate")
    def rate():
        fields = _fields()
        record = board.rate(fields.get("trial_id"), fields.get("rating"))
        return {"ok": True, "trial_id": record.id, "value": record.value, "state": board.progress().as_json()}

    @app.post("/api/skip")
    def skip():
        record = board.skip(_fields().get("trial_id"))
        return {"ok": True, "trial_id": record.id, "state": board.progress().as_json()}

    @app.get("/favicon.ico")
    def favicon():
        return "", 204  # browsers ask for one; none is needed

    @app.get("/trial/<int:trial_id>.png")
    def trial_png(trial_id: int):
        record = board.trial(trial_id)
        kind = candidate_kind(record.x.shape)
        if kind == NUMBERS:
            raise RatingError(f"trial {trial_id} (shape {list(record.x.shape)}) has no picture; the page shows its "
                              "numbers", 404)
        if kind == IMAGE:
            response = flask.Response(image_png(record.x), mimetype="image/png")
            response.cache_control.max_age = 3600  # a trial's x never changes
        else:  # a 2-D point over the completed ones, which change as ratings arrive
            xs, values = board.completed_points()
            png = point_png(record.x, xs, values, pending=board.pending_points())
            response = flask.Response(png, mimetype="image/png")
            response.cache_control.no_store = True
        response.cache_control.private = True
        return response


def _fields() -> dict:
    """The POSTed fields: a form (what the page sends) or a JSON object."""
    if flask.request.form:
        return flask.request.form.to_dict()
    body = flask.request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _rating_error(error: RatingError):
    fields = _fields() if flask.request.method == "POST" else {}
    return {"ok": False, "error": str(error), "trial_id": fields.get("trial_id")}, error.status
