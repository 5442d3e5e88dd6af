"""The rating page as a Flask application: routes and JSON answers, behind the guard of :mod:`oboptim.web._guard`.

Flask (with Werkzeug and Jinja, all maintained by the Pallets project) does the HTTP work: routing, form and
cookie parsing, templates with autoescaping. This module only maps requests to :class:`RatingBoard` calls.

Every route, static files included, needs the server's random token (403 without it): GET requests in the
``X-Oboptim-Token`` header, ``?token=...`` in the URL or the cookie set on the first visit; POST requests in the header
or the ``token`` form field only, from the page's own origin, with a body of a few kB at most. The checks and the
security headers every answer carries are in :mod:`oboptim.web._guard`.

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

import flask

from oboptim.images._pictures import IMAGE, NUMBERS, POINT_2D, candidate_kind, image_png
from oboptim.web._board import RATING_MAX, RATING_MIN, RatingBoard, RatingError
from oboptim.web._guard import guard_app
from oboptim.web._render import point_png

POLL_MILLISECONDS = 2000


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
    guard_app(app, token)
    app.register_error_handler(RatingError, _rating_error)
    _add_routes(app, board, token)
    return app


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
            png = point_png(record.x, xs, values, pending=board.pending_points(),
                            value_range=(RATING_MIN, RATING_MAX))
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
