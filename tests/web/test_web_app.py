"""The rating page's Flask app through its test client: the token, listing, rating, bad input, skip, state, PNGs,
the origin check and the security headers."""

import io
import re
import sqlite3

import numpy as np
import pytest
from PIL import Image

from oboptim.storage import Storage, TrialState
from oboptim.web import WEB_RATER, UnknownCampaign, create_app

TOKEN = "s3cret-token"


@pytest.fixture
def db(tmp_path):
    """``(url, storage, trials)``: campaign "web" with an image, a 2-D point and a plain vector, all waiting."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    storage = Storage(url)
    campaign, _ = storage.get_or_create_campaign("web", task="none", config={}, seed=0)
    image = np.linspace(-1.0, 1.0, 256, dtype=np.float32).reshape(1, 16, 16)
    xs = [image, np.array([1.0, -2.0]), np.arange(5.0)]
    trials = storage.add_round(campaign.id, 0, xs, [{}] * 3, rng_state=b"", diagnostics={})
    other, _ = storage.get_or_create_campaign("other", task="none", config={}, seed=0)
    storage.add_round(other.id, 0, [np.zeros(2)], [{}], rng_state=b"", diagnostics={})
    yield url, storage, trials
    storage.close()


@pytest.fixture
def client(db):
    app = create_app(db[0], "web", TOKEN)
    yield app.test_client()
    app.extensions["oboptim_board"].close()


def observation_count(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute("SELECT count(*) FROM observation").fetchone()[0]


def rate(client, trial_id, rating):
    return client.post("/api/rate", data={"token": TOKEN, "trial_id": str(trial_id), "rating": rating})


ROUTES = [("get", "/"), ("get", "/trials"), ("get", "/api/state"), ("get", "/trial/1.png"),
          ("get", "/static/page.js"), ("post", "/api/rate"), ("post", "/api/skip")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_every_route_needs_the_token(db, client, method, path, token):
    url = path if token is None else f"{path}?token={token}"
    fields = {"trial_id": str(db[2][0].id), "rating": "5"}
    if token is not None:
        fields["token"] = token
    response = getattr(client, method)(url, data=fields if method == "post" else None)
    assert response.status_code == 403
    assert b"token" in response.data and b"s3cret" not in response.data
    assert observation_count(db[0]) == 0


def test_token_in_the_url_sets_a_cookie_for_later_gets_but_posts_must_name_it(db, client):
    assert client.get(f"/?token={TOKEN}").status_code == 200
    assert client.get("/api/state").status_code == 200  # the cookie stands in for the token
    assert client.get("/static/page.css").status_code == 200
    response = client.post("/api/rate", data={"trial_id": str(db[2][0].id), "rating": "5"})
    assert response.status_code == 403  # a cookie alone could be a forged cross-site post
    assert observation_count(db[0]) == 0


def test_a_post_takes_no_token_from_the_query_string(db, client):
    """A token in a POST's URL would end up in browser history and logs: only the header or the form field count."""
    response = client.post(f"/api/rate?token={TOKEN}", data={"trial_id": str(db[2][0].id), "rating": "5"})
    assert response.status_code == 403
    assert client.post(f"/api/skip?token={TOKEN}", data={"trial_id": str(db[2][0].id)}).status_code == 403
    assert observation_count(db[0]) == 0


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://localhost:8765"}, {"Referer": "http://evil.example/rate"}])
def test_a_cross_origin_post_is_refused_even_with_the_token(db, client, headers):
    response = client.post("/api/rate", data={"trial_id": str(db[2][0].id), "rating": "5"},
                           headers={"X-Oboptim-Token": TOKEN, **headers})
    assert response.status_code == 403 and b"origin" in response.data
    assert observation_count(db[0]) == 0


@pytest.mark.parametrize("headers", [{"Origin": "http://localhost"}, {"Referer": "http://localhost/?x=1"}, {}])
def test_a_same_origin_post_or_one_without_origin_is_accepted(db, client, headers):
    response = client.post("/api/rate", data={"trial_id": str(db[2][0].id), "rating": "5"},
                           headers={"X-Oboptim-Token": TOKEN, **headers})
    assert response.status_code == 200


def test_a_body_over_the_limit_is_refused_before_the_token_is_read(db, client):
    fields = {"token": TOKEN, "trial_id": str(db[2][0].id), "rating": "5", "padding": "x" * 100_000}
    assert client.post("/api/rate", data=fields).status_code == 413
    response = client.post("/api/rate", data=fields, headers={"X-Oboptim-Token": TOKEN})
    assert response.status_code == 413 and b"too large" in response.data
    assert observation_count(db[0]) == 0


SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer"}


@pytest.mark.parametrize("path", ["/?token=" + TOKEN, "/trials?token=" + TOKEN, "/api/state?token=" + TOKEN,
                                  "/static/page.js?token=" + TOKEN, "/trial/2.png?token=" + TOKEN, "/", "/nowhere"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.parametrize("path", ["/", "/trials", "/api/state"])
def test_pages_with_the_token_are_not_stored(client, path):
    assert "no-store" in client.get(f"{path}?token={TOKEN}").headers["Cache-Control"]


def test_the_page_has_no_inline_script_or_style(client):
    """The Content-Security-Policy allows scripts and styles from the server's files only."""
    page = client.get(f"/?token={TOKEN}").get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page and not re.search(r"\sstyle=", page)
    assert not re.search(r"\son[a-z]+=", page)  # onclick= etc.


def test_unknown_campaign_is_a_clear_error(db):
    with pytest.raises(UnknownCampaign, match="no campaign 'nope'.*known: web, other"):
        create_app(db[0], "nope", TOKEN)


def test_page_lists_waiting_and_running_trials_only(db, client):
    url, storage, trials = db
    campaign_id = trials[0].campaign_id
    storage.claim_trials(campaign_id, "host:1", lease_seconds=60, limit=1)  # what `oboptim run` does
    storage.fail_trial(trials[2].id, "instrument error")
    page = client.get(f"/?token={TOKEN}").get_data(as_text=True)
    assert f'id="trial-{trials[0].id}"' in page and f'id="trial-{trials[1].id}"' in page
    assert f'id="trial-{trials[2].id}"' not in page
    assert "running" in page and "waiting" in page
    assert f"/trial/{trials[0].id}.png?token={TOKEN}" in page
    assert 'pending <b id="pending">2</b>' in page and 'failed <b id="failed">1</b>' in page


def test_a_vector_is_shown_as_numbers(client, db):
    page = client.get(f"/trials?token={TOKEN}").get_data(as_text=True)
    assert "[0, 1, 2, 3, 4]" in page
    assert f"/trial/{db[2][2].id}.png" not in page


def test_rating_writes_an_observation_with_rater_web(db, client):
    url, storage, trials = db
    response = rate(client, trials[1].id, " 7.5 ")
    assert response.status_code == 200
    assert response.json["ok"] and response.json["value"] == 7.5
    stored = storage.get_trial(trials[1].id)
    assert (stored.state, stored.value, stored.rater) == (TrialState.COMPLETED, 7.5, WEB_RATER)
    assert response.json["state"]["rated"] == 1 and trials[1].id not in response.json["state"]["pending_ids"]
    assert f'id="trial-{trials[1].id}"' not in client.get(f"/trials?token={TOKEN}").get_data(as_text=True)


def test_rating_as_json_with_the_token_header(db, client):
    response = client.post("/api/rate", json={"trial_id": db[2][0].id, "rating": 10},
                           headers={"X-Oboptim-Token": TOKEN})
    assert response.status_code == 200
    assert db[1].get_trial(db[2][0].id).value == 10.0


@pytest.mark.parametrize(
    ("rating", "message"),
    [("11", "rating 11 is outside 1-10"), ("0", "rating 0 is outside 1-10"), ("10.01", "outside 1-10"),
     ("-3", "outside 1-10"), ("abc", "rating 'abc' is not a number"), ("", "no rating given"),
     ("   ", "no rating given"), ("nan", "outside 1-10"), ("inf", "outside 1-10"), ("7,5", "is not a number")],
)
def test_bad_ratings_give_a_message_and_write_nothing(db, client, rating, message):
    url, storage, trials = db
    response = rate(client, trials[0].id, rating)
    assert response.status_code == 400
    assert not response.json["ok"]
    assert message in response.json["error"] and "type a number from 1 to 10" in response.json["error"]
    assert storage.get_trial(trials[0].id).state == TrialState.WAITING
    assert observation_count(url) == 0


def test_a_missing_rating_field_is_refused(db, client):
    response = client.post("/api/rate", data={"token": TOKEN, "trial_id": str(db[2][0].id)})
    assert response.status_code == 400 and "no rating given" in response.json["error"]
    assert observation_count(db[0]) == 0


@pytest.mark.parametrize("again", ["4", "9"])
def test_an_already_rated_trial_shows_the_stored_value(db, client, again):
    url, storage, trials = db
    storage.complete_trial(trials[0].id, 4.0, rater="alice")
    response = rate(client, trials[0].id, again)
    assert response.status_code == 409
    assert response.json["error"] == f"trial {trials[0].id} was already rated 4 by alice: a rating is final"
    stored = storage.get_trial(trials[0].id)
    assert (stored.value, stored.rater) == (4.0, "alice")
    assert observation_count(url) == 1


def test_rating_twice_on_the_page_keeps_the_first(db, client):
    trials = db[2]
    assert rate(client, trials[0].id, "6").status_code == 200
    response = rate(client, trials[0].id, "8")
    assert response.status_code == 409 and "already rated 6 by web" in response.json["error"]
    assert db[1].get_trial(trials[0].id).value == 6.0


def test_a_failed_trial_cannot_be_rated(db, client):
    url, storage, trials = db
    storage.fail_trial(trials[0].id, "sample lost")
    response = rate(client, trials[0].id, "5")
    assert response.status_code == 409 and "already failed (sample lost)" in response.json["error"]
    assert observation_count(url) == 0


def test_unknown_trials_are_refused(db, client):
    url, storage, _ = db
    other_trial = storage.trials(storage.get_campaign("other").id)[0]
    for trial_id, message in [("9999", "no trial 9999 in campaign 'web'"),
                              (str(other_trial.id), f"no trial {other_trial.id} in campaign 'web'"),
                              ("x7", "trial id 'x7' is not a number"), ("", "trial id '' is not a number")]:
        response = rate(client, trial_id, "5")
        assert response.status_code == 404, trial_id
        assert message in response.json["error"]
        assert client.post("/api/skip", data={"token": TOKEN, "trial_id": trial_id}).status_code == 404
    assert observation_count(url) == 0


def test_skip_leaves_the_trial_waiting_and_moves_it_last(db, client):
    url, storage, trials = db
    ids = [t.id for t in trials]
    response = client.post("/api/skip", data={"token": TOKEN, "trial_id": str(ids[0])})
    assert response.status_code == 200 and response.json["ok"]
    assert storage.get_trial(ids[0]).state == TrialState.WAITING
    assert observation_count(url) == 0
    assert client.get(f"/api/state?token={TOKEN}").json["pending_ids"] == [ids[1], ids[2], ids[0]]
    page = client.get(f"/trials?token={TOKEN}").get_data(as_text=True)
    assert page.index(f'id="trial-{ids[2]}"') < page.index(f'class="trial skipped" id="trial-{ids[0]}"')
    client.post("/api/skip", data={"token": TOKEN, "trial_id": str(ids[1])})
    assert client.get(f"/api/state?token={TOKEN}").json["pending_ids"] == [ids[2], ids[0], ids[1]]
    assert rate(client, ids[0], "2").status_code == 200  # a skipped trial can still be rated
    assert client.get(f"/api/state?token={TOKEN}").json["pending_ids"] == [ids[2], ids[1]]


def test_skipping_a_rated_trial_is_refused(db, client):
    trials = db[2]
    rate(client, trials[0].id, "3")
    response = client.post("/api/skip", data={"token": TOKEN, "trial_id": str(trials[0].id)})
    assert response.status_code == 409 and "already rated 3" in response.json["error"]


def test_state_counts_and_best(db, client):
    url, storage, trials = db
    assert client.get(f"/api/state?token={TOKEN}").json == {
        "campaign": "web", "rated": 0, "pending": 3, "failed": 0, "best": None,
        "pending_ids": [t.id for t in trials]}
    rate(client, trials[0].id, "3")
    rate(client, trials[1].id, "9")
    storage.fail_trial(trials[2].id, "broken")
    state = client.get(f"/api/state?token={TOKEN}").json
    assert (state["rated"], state["pending"], state["failed"]) == (2, 0, 1)
    assert state["best"] == {"trial_id": trials[1].id, "value": 9.0}
    page = client.get(f"/?token={TOKEN}").get_data(as_text=True)
    assert f"9 (trial {trials[1].id})" in page and "No candidates are waiting" in page


def test_image_png_is_the_candidate_scaled_up(db, client):
    response = client.get(f"/trial/{db[2][0].id}.png?token={TOKEN}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (256, 256) and image.mode == "L"
    pixels = np.asarray(image)
    assert pixels[0, 0] == 0 and pixels[-1, -1] == 255  # -1 -> black, +1 -> white
    assert (pixels[:16, :16] == pixels[0, 0]).all()  # one source pixel is one 16x16 block


def test_point_png_is_a_plot_and_vectors_have_none(db, client):
    response = client.get(f"/trial/{db[2][1].id}.png?token={TOKEN}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert Image.open(io.BytesIO(response.data)).size[0] >= 200
    response = client.get(f"/trial/{db[2][2].id}.png?token={TOKEN}")
    assert response.status_code == 404 and "has no picture" in response.json["error"]
    assert client.get(f"/trial/9999.png?token={TOKEN}").status_code == 404
