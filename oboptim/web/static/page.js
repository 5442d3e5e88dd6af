// The rating page's behaviour: send ratings and skips, show progress, and reload the list of candidates when the
// campaign's pending set changes (polling /api/state). All checks happen on the server; this only shows its answers.
"use strict";

(() => {
  const body = document.body;
  const token = body.dataset.token;
  const pollMs = Number(body.dataset.pollMs) || 2000;
  const list = document.getElementById("trials");
  const globalMessage = document.getElementById("message");
  let shownKey = shownTrialsKey();
  let lostContact = false;

  function shownTrialsKey() {
    return idsKey([...list.querySelectorAll("section.trial")].map((card) => card.dataset.trialId));
  }

  function idsKey(ids) {
    return ids.map(String).sort().join(",");
  }

  function say(text, kind) {
    globalMessage.textContent = text;
    globalMessage.className = kind;
  }

  // The token travels in a header, never in a URL: the server checks it before reading any body.
  function headers(accept) {
    return { Accept: accept, "X-Oboptim-Token": token };
  }

  async function post(url, fields) {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    const response = await fetch(url, { method: "POST", body: form, headers: headers("application/json") });
    try {
      return await response.json();
    } catch (error) {
      return { ok: false, error: `the server answered ${response.status} ${response.statusText}` };
    }
  }

  function showProgress(state) {
    document.getElementById("rated").textContent = state.rated;
    document.getElementById("pending").textContent = state.pending;
    document.getElementById("failed").textContent = state.failed;
    document.getElementById("best").textContent =
      state.best ? `${Number(state.best.value.toPrecision(6))} (trial ${state.best.trial_id})` : "–";
  }

  async function rate(card, rating) {
    const id = card.dataset.trialId;
    const answer = await post(body.dataset.rateUrl, { trial_id: id, rating: rating });
    if (!answer.ok) {
      card.querySelector(".message").textContent = answer.error;
      say(answer.error, "error");
      return;
    }
    card.remove();
    shownKey = shownTrialsKey();
    showProgress(answer.state);
    say(`trial ${id} rated ${answer.value}`, "ok");
    if (!list.querySelector("section.trial")) await reloadList();
  }

  async function skip(card) {
    const id = card.dataset.trialId;
    const answer = await post(body.dataset.skipUrl, { trial_id: id });
    if (!answer.ok) {
      card.querySelector(".message").textContent = answer.error;
      say(answer.error, "error");
      return;
    }
    card.classList.add("skipped");
    card.querySelector(".message").textContent = "";
    list.appendChild(card);
    say(`trial ${id} skipped: it stays pending at the end of the list`, "ok");
  }

  // Replace the list with the server's, keeping what was typed but not yet sent.
  async function reloadList() {
    const typed = {};
    for (const card of list.querySelectorAll("section.trial")) {
      const input = card.querySelector(".rating-input");
      if (input && input.value) typed[card.dataset.trialId] = input.value;
    }
    const response = await fetch(body.dataset.trialsUrl, { headers: headers("text/html") });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    list.innerHTML = await response.text();
    for (const [id, value] of Object.entries(typed)) {
      const input = list.querySelector(`section.trial[data-trial-id="${id}"] .rating-input`);
      if (input) input.value = value;
    }
    shownKey = shownTrialsKey();
  }

  async function poll() {
    try {
      const response = await fetch(body.dataset.stateUrl, { headers: headers("application/json") });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const state = await response.json();
      showProgress(state);
      if (lostContact) say("", "");
      lostContact = false;
      if (idsKey(state.pending_ids) !== shownKey) await reloadList();
    } catch (error) {
      lostContact = true;
      say(`lost contact with the rating server (${error.message}); retrying`, "error");
    } finally {
      setTimeout(poll, pollMs);
    }
  }

  list.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const card = form.closest("section.trial");
    if (event.submitter && event.submitter.classList.contains("skip")) skip(card);
    else rate(card, form.elements.rating.value);
  });

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-rating]");
    if (button) rate(button.closest("section.trial"), button.dataset.rating);
  });

  setTimeout(poll, pollMs);
})();
