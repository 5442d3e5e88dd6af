"""The rating page in a real browser (Playwright driving Debian's Chromium, headless, loopback only).

A person rates two candidates (typing, then clicking), tries an invalid rating, skips one; the database must hold
exactly what they gave, and a new batch must appear on the page without a manual reload.
"""

import shutil
import threading
from pathlib import Path

import pytest

from oboptim import Campaign
from oboptim.storage import TrialState

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MIXTURE_TASK = str(Path(__file__).parents[1] / "campaign" / "mixture_task.py") + ":TASK"
WAIT_MS = 10_000  # bound on every wait in the browser
SCREENSHOT_COPY = Path("/tmp/oboptim_serve.png")

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package: pip install playwright")
if not CHROMIUM.exists():
    pytest.skip("needs Debian's Chromium at /usr/bin/chromium: apt-get install -y chromium", allow_module_level=True)


@pytest.fixture
def campaign(tmp_path):
    return Campaign.open("web", storage=f"sqlite:///{tmp_path / 'browser.db'}", task=MIXTURE_TASK, seed=0)


@pytest.fixture
def page_url(campaign):
    from oboptim.web import make_rating_server

    server, url = make_rating_server(campaign.storage.url, campaign.name, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()
    server.app.extensions["oboptim_board"].close()
    thread.join(timeout=10)


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                                             timeout=30_000)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            tab = context.new_page()
            tab.set_default_timeout(WAIT_MS)
            yield tab
        finally:
            browser.close()


def card(page, trial_id):
    return page.locator(f"#trial-{trial_id}")


def wait_for_pictures(page):
    """Every candidate's picture has loaded (a broken one has no natural width)."""
    # A function, not an expression: Playwright evaluates an expression with eval, which the page's CSP forbids.
    page.wait_for_function("() => [...document.images].every(img => img.complete && img.naturalWidth > 0)")
    assert page.locator("img.candidate").count() == page.locator("section.trial").count()


def test_rate_skip_and_see_a_new_batch(campaign, page_url, page, tmp_path):
    first, second, third = (t.id for t in campaign.ask(3))
    script_errors, policy_violations = [], []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.on("console", lambda message: policy_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(page_url)
    expect = sync_api.expect
    expect(page.locator("section.trial")).to_have_count(3)
    expect(page.locator("#pending")).to_have_text("3")
    wait_for_pictures(page)
    page.screenshot(path=str(tmp_path / "rating_page.png"), full_page=True)

    # An invalid rating: a message on the card and at the top, and nothing stored.
    card(page, first).locator("input.rating-input").fill("11")
    card(page, first).locator("button.rate").click()
    expect(card(page, first).locator(".message")).to_contain_text("rating 11 is outside 1-10")
    expect(page.locator("#message")).to_contain_text("type a number from 1 to 10")
    assert campaign.storage.get_trial(first).state == TrialState.WAITING

    # Rate by typing (Enter submits), then by clicking a number.
    card(page, first).locator("input.rating-input").fill("7")
    card(page, first).locator("input.rating-input").press("Enter")
    expect(card(page, first)).to_have_count(0)
    card(page, second).get_by_role("button", name="3", exact=True).click()
    expect(card(page, second)).to_have_count(0)
    expect(page.locator("#rated")).to_have_text("2")
    expect(page.locator("#best")).to_have_text(f"7 (trial {first})")

    # Skip: the card stays, marked, and the trial stays waiting.
    card(page, third).locator("button.skip").click()
    expect(card(page, third)).to_have_class("trial skipped")
    expect(page.locator("#message")).to_contain_text(f"trial {third} skipped")

    stored = {t.id: t for t in campaign.trials()}
    assert (stored[first].state, stored[first].value, stored[first].rater) == (TrialState.COMPLETED, 7.0, "web")
    assert (stored[second].state, stored[second].value, stored[second].rater) == (TrialState.COMPLETED, 3.0, "web")
    assert stored[third].state == TrialState.WAITING and stored[third].value is None

    # A new batch shows up by itself (the page polls), listed before the skipped trial.
    new_ids = [t.id for t in campaign.ask(2)]
    for trial_id in new_ids:
        expect(card(page, trial_id)).to_be_visible()
    expect(page.locator("#pending")).to_have_text("3")
    order = page.locator("section.trial").evaluate_all("cards => cards.map(c => Number(c.dataset.trialId))")
    assert order == [*new_ids, third]
    expect(card(page, third).locator(".message")).to_have_text("")
    wait_for_pictures(page)
    page.screenshot(path=str(tmp_path / "rating_page_new_batch.png"), full_page=True)
    shutil.copyfile(tmp_path / "rating_page_new_batch.png", SCREENSHOT_COPY)  # for a person to look at
    assert script_errors == [] and policy_violations == []
    assert token_free(page.evaluate("performance.getEntriesByType('resource').map(entry => entry.name)"))


def token_free(fetched_urls: list[str]) -> bool:
    """The page's script sends the token in a header: none of the URLs it fetched or posted to carries it."""
    fetched = [url for url in fetched_urls if "/api/" in url or "/trials" in url]
    return bool(fetched) and not any("token=" in url for url in fetched)
