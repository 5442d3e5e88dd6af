"""The ehrlich task: holo's Ehrlich function as the oracle, sequences as candidates, a campaign that resumes exactly.

Small settings keep the campaigns quick (20 candidates a round, 8 particles, 10 steps); the behaviour tested (integer
candidates, no repeated sequence, strings in every reading command, exact resume) does not depend on the sizes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from holo.test_functions.closed_form import Ehrlich

from oboptim import Campaign, load_task
from oboptim.cli import main
from oboptim.sampling import select_particles
from oboptim.tasks.ehrlich import INSTANCES, EhrlichSpec, is_feasible, make_function, sample_feasible

SMALL = {"batch_size": 20, "particles": 8, "steps": 10}


def quiet(campaign, budget, **kwargs):
    campaign.run(budget=budget, progress=False, log=lambda line: None, **kwargs)


def test_oracle_values_equal_holos_including_infeasible_sequences():
    spec = EhrlichSpec(num_states=8, length=16, num_motifs=2, motif_length=3, quantization=3, function_seed=4)
    task = load_task("ehrlich", spec.to_dict())
    reference = Ehrlich(num_states=8, dim=16, num_motifs=2, motif_length=3, quantization=3, noise_std=0.0,
                        negate=False, random_seed=4)
    feasible = sample_feasible(reference, 200, seed=1)
    random = np.random.default_rng(0).integers(0, 8, size=(200, 16))  # most are infeasible
    optimum = reference.optimal_solution().numpy().reshape(1, -1)
    x = np.concatenate([feasible, random, optimum])
    expected = reference(torch.as_tensor(x)).double().numpy()
    got = np.array(task.oracle(x))
    np.testing.assert_array_equal(got, expected)
    assert got[-1] == 1.0 and np.isinf(got).sum() > 100 and np.isfinite(got[:200]).all()
    np.testing.assert_array_equal(is_feasible(reference, x), np.isfinite(expected))


def test_bad_options_are_one_line_errors():
    from oboptim import TaskNotFoundError

    with pytest.raises(TaskNotFoundError, match="must not exceed length"):
        load_task("ehrlich", {"length": 6, "num_motifs": 2, "motif_length": 4})
    with pytest.raises(TaskNotFoundError, match="num_states must lie in"):
        load_task("ehrlich", {"num_states": 100})
    with pytest.raises(TaskNotFoundError, match="takes num_states"):
        load_task("ehrlich", {"motifs": 3})


def test_the_shipped_prior_is_the_chain_the_task_would_fit():
    from oboptim.sequences import load_markov_denoiser
    from oboptim.tasks.ehrlich import fit_prior_chain

    spec = INSTANCES["a"]
    shipped, metadata = load_markov_denoiser(spec.prior_path)
    fitted, _ = fit_prior_chain(spec)
    torch.testing.assert_close(shipped.log_transition.exp(), fitted.log_transition.exp())
    assert metadata["spec"] == spec.to_dict()


def test_campaign_proposes_new_feasible_sequences_and_resumes_exactly(tmp_path):
    a = Campaign.open("a", task="ehrlich", storage=f"sqlite:///{tmp_path / 'a.db'}", seed=3, **SMALL)
    quiet(a, 60)
    b = Campaign.open("b", task="ehrlich", storage=f"sqlite:///{tmp_path / 'b.db'}", seed=3, **SMALL)
    quiet(b, 20)
    b.storage.close()
    b = Campaign.open("b", storage=f"sqlite:///{tmp_path / 'b.db'}")
    quiet(b, 60)
    xa = np.stack([t.x for t in a.trials()])
    xb = np.stack([t.x for t in b.trials()])
    assert xa.shape == (60, 32) and xa.dtype == np.int64
    np.testing.assert_array_equal(xa, xb)
    assert [t.value for t in a.trials()] == [t.value for t in b.trials()]
    assert len({row.tobytes() for row in xa}) == 60  # no sequence is queried twice
    assert is_feasible(make_function(INSTANCES["a"]), xa).mean() >= 0.99
    assert all(t.state == "completed" for t in a.trials())
    later = [t for t in a.trials() if t.round > 0]
    assert later and all(np.isfinite(json.loads(json.dumps(t.provenance))["predicted_mean"]) for t in later)


def test_derivative_free_and_cold_start_work(tmp_path):
    c = Campaign.open("c", task="ehrlich", storage=f"sqlite:///{tmp_path / 'c.db'}", seed=0, guidance=False,
                      warm_start=0.0, **SMALL)
    quiet(c, 40)
    x = np.stack([t.x for t in c.trials()])
    assert x.shape == (40, 32) and len({row.tobytes() for row in x}) == 40


def test_reading_commands_show_sequences_as_strings(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    c = Campaign.open("r", task="ehrlich", storage=url, seed=1, **SMALL)
    quiet(c, 20)
    alphabet = c.task.sequence.alphabet
    stored = {t.id: t.x for t in c.trials()}
    c.storage.close()
    runner = CliRunner()

    exported = runner.invoke(main, ["export", "r", "--storage", url, "--format", "json"])
    assert exported.exit_code == 0, exported.output
    rows = json.loads(exported.output)
    assert len(rows) == 20
    for row in rows:
        assert isinstance(row["x"], str) and len(row["x"]) == 32 and set(row["x"]) <= set(alphabet)
        np.testing.assert_array_equal([alphabet.index(ch) for ch in row["x"]], stored[row["trial_id"]])
    csv_text = runner.invoke(main, ["export", "r", "--storage", url]).output
    assert rows[0]["x"] in csv_text

    status = json.loads(runner.invoke(main, ["status", "r", "--storage", url, "--json"]).output)
    best = status["best"]
    assert best["x"] == next(r["x"] for r in rows if r["trial_id"] == best["trial_id"])
    assert best["x"] in runner.invoke(main, ["status", "r", "--storage", url]).output

    asked = runner.invoke(main, ["ask", "r", "--storage", url, "-n", "3"])
    assert asked.exit_code == 0, asked.output
    lines = [json.loads(line) for line in asked.output.splitlines()]
    assert len(lines) == 3 and all(isinstance(line["x"], str) and len(line["x"]) == 32 for line in lines)
    assert not {line["x"] for line in lines} & {row["x"] for row in rows}


def test_rating_page_shows_sequences(tmp_path):
    from oboptim.web import RatingBoard

    url = f"sqlite:///{tmp_path / 'w.db'}"
    c = Campaign.open("w", task="ehrlich", storage=url, seed=2, **SMALL)
    trials = c.ask(4)
    strings = {t.id: c.shown_x(t) for t in trials}
    c.storage.close()
    board = RatingBoard.open(url, "w")
    pending = board.pending()
    board.close()
    assert {p.id: p.numbers for p in pending} == strings
    assert all(p.kind == "numbers" for p in pending)


def test_the_terminal_rater_sees_sequences_as_strings():
    import io

    from oboptim.oracles import OracleContext
    from oboptim.oracles._human import terminal_oracle

    task = load_task("ehrlich")
    oracle = terminal_oracle(OracleContext(task=task))
    oracle.input_stream, oracle.output_stream = io.StringIO("0.5\n"), io.StringIO()
    x = np.arange(32).reshape(1, 32) % 32
    outcomes = oracle.evaluate([7], x)
    assert outcomes[0].value == 0.5
    assert f"trial 7: x = {task.sequence.format(x[0])}" in oracle.output_stream.getvalue()


def test_known_and_repeated_sequences_are_excluded_before_selection():
    from oboptim._proposal import History, ManifoldFilter, Tilt, exclude_known_sequences
    from oboptim.sampling import SMCResult

    task = load_task("ehrlich")
    prior = task.load_prior(torch.device("cpu"))
    rng = np.random.default_rng(0)
    tokens = torch.as_tensor(rng.integers(0, 32, size=(6, 32)))
    # 2 groups x 3 particles: (known, new A, new A) and (new B, new A again, new C)
    layout = torch.stack([tokens[0], tokens[1], tokens[1], tokens[2], tokens[1], tokens[3]]).view(2, 3, 32)
    particles = prior.encode(layout.reshape(-1, 32)).view(2, 3, 32, 32) * 0.9  # not yet snapped
    log_weights = torch.log_softmax(torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]]), -1)
    steps = torch.zeros(1, 2)
    result = SMCResult(particles=particles, log_weights=log_weights, log_z=torch.zeros(2), ess=steps,
                       lambdas=torch.ones(2, 2), log_z_trace=steps, reward_trace=steps,
                       resampled=steps.bool(), rewards=torch.zeros(2, 3), decoder=prior.decode)
    history = History(X=tokens[:1].numpy(), y=np.array([0.1]), pending=np.zeros((0, 32), np.int64))
    tilt = Tilt(reward=lambda probs: probs[..., 0].sum(-1), scale=1.0, alpha=1.0)
    out = exclude_known_sequences(task, prior, tilt, history, ManifoldFilter(result, 0)).result
    fresh = torch.isfinite(out.rewards)
    # the known sequence goes; A is kept once, on its heaviest particle (group 1, weight e^5); B and C stay
    assert fresh.tolist() == [[False, False, False], [True, True, True]]
    assert out.log_weights[0].isfinite().all()  # group 0 has nothing new: it keeps its weights
    torch.testing.assert_close(out.particles, prior.encode(layout.reshape(-1, 32)).view_as(particles))
    expected = torch.nn.functional.one_hot(layout, 32).float()[..., 0].sum(-1)
    torch.testing.assert_close(out.rewards[1], expected[1], atol=1e-3, rtol=0)
    # argmax: group 1 takes A (its heaviest); group 0, with nothing new, borrows group 1's best spare by reward
    groups, picks = select_particles(out, "argmax", torch.Generator())
    spare = 0 if out.rewards[1, 0] >= out.rewards[1, 2] else 2
    assert groups.tolist() == [1, 1] and picks.tolist() == [spare, 1]


# Issue 19, item 3: small spaces, where the sampler's final particles soon hold only sequences already queried.
SMALL_SPACE = {"num_states": 4, "length": 6, "num_motifs": 1, "motif_length": 3, "quantization": 3}  # 972 feasible
TINY_SPACE = {"num_states": 2, "length": 4, "num_motifs": 1, "motif_length": 2, "quantization": 2}  # 16 sequences
TINY_FLAGS = [flag for key, value in TINY_SPACE.items() for flag in ("--task-option", f"{key}={value}")]


def test_a_small_space_never_repeats_a_sequence_and_resumes_exactly(tmp_path):
    a = Campaign.open("small6", task="ehrlich", task_options=SMALL_SPACE, storage=f"sqlite:///{tmp_path / 'a.db'}",
                      batch_size=10)
    quiet(a, 60)
    xa = np.stack([t.x for t in a.trials()])
    assert xa.shape == (60, 6) and len({row.tobytes() for row in xa}) == 60  # was 36 distinct of 60
    assert all(t.state == "completed" for t in a.trials())  # the fill-ins are prior draws: feasible
    filled = [t for t in a.trials() if t.round > 0 and t.provenance["source"] == "prior"]
    assert filled and all(np.isfinite(t.provenance["predicted_mean"]) for t in filled)
    b = Campaign.open("small6", task="ehrlich", task_options=SMALL_SPACE, storage=f"sqlite:///{tmp_path / 'b.db'}",
                      batch_size=10)
    quiet(b, 30)
    b.storage.close()
    b = Campaign.open("small6", storage=f"sqlite:///{tmp_path / 'b.db'}")
    quiet(b, 60)
    np.testing.assert_array_equal(xa, np.stack([t.x for t in b.trials()]))


def test_an_exhausted_space_ends_the_run_with_one_line_and_no_repeat(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    runner = CliRunner()
    run = runner.invoke(main, ["run", "ehrlich", "--name", "tiny", "--storage", url, *TINY_FLAGS, "--budget", "40",
                               "--batch-size", "10"])
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.stderr
    assert run.stderr.rstrip().splitlines()[-1] == (
        "error: all 16 sequences of length 4 over 'AB' were scored or are pending: nothing new is left to propose; "
        "stop here, or start a new campaign with --name over a larger space (longer sequences, more states)")
    rows = json.loads(runner.invoke(main, ["export", "tiny", "--storage", url, "--format", "json"]).output)
    assert len(rows) == 16 and len({row["x"] for row in rows}) == 16  # was 5 distinct of 40 (BBBB 20 times)
    campaign = Campaign.open("tiny", storage=url)
    notes = [round_.diagnostics.get("note") for round_ in campaign.storage.rounds(campaign.id)]
    assert any(note and note.startswith("proposed 6 of 10: ") for note in notes)  # the short round says so
    campaign.storage.close()
    asked = runner.invoke(main, ["ask", "tiny", "--storage", url, "-n", "2"])
    assert asked.exit_code == 2 and asked.stdout == ""
    assert asked.stderr.strip().startswith("error: all 16 sequences") and len(asked.stderr.strip().splitlines()) == 1


def test_asking_a_tiny_space_twice_before_any_score_never_repeats(tmp_path):
    url = f"sqlite:///{tmp_path / 'ask.db'}"
    campaign = Campaign.open("ask", task="ehrlich", task_options=TINY_SPACE, storage=url, batch_size=10)
    first, second = campaign.ask(10), campaign.ask(10)  # both rounds sample the prior: nothing is scored yet
    xs = [t.x.tobytes() for t in first + second]
    assert (len(first), len(second)) == (10, 6) and len(set(xs)) == 16


def test_a_failed_sequence_is_never_proposed_again(tmp_path):
    """Needs the campaign's history to carry its failed trials (``History.failed``)."""
    from oboptim.errors import SpaceExhausted

    campaign = Campaign.open("fails", task="ehrlich", task_options=TINY_SPACE,
                             storage=f"sqlite:///{tmp_path / 'fails.db'}", batch_size=10)
    first_state_a = lambda x: [float("nan") if row[0] == 0 else 1.0 for row in x]  # noqa: E731
    with pytest.raises(SpaceExhausted, match="all 16 sequences"):
        quiet(campaign, 40, oracle=first_state_a, max_failure_rate=1.0)
    trials = campaign.trials()
    assert len(trials) == 16 and len({t.x.tobytes() for t in trials}) == 16
    assert sum(t.state == "failed" for t in trials) == 8
