"""The sample-efficiency benchmark on a tiny budget: it runs, and its table says what the methods must do."""

import json
import math
import re

import numpy as np
import pytest
import torch

from oboptim.benchmark import RegimeOracle, build_problem, impute_failures, main, measure_manifold, parse_method
from oboptim.benchmark._compare import best_so_far
from oboptim.benchmark._problems import sample_prior
from oboptim.tasks import gmm2d, swissroll3d


def _rows(markdown: str, heading: str) -> dict[str, list[str]]:
    table = markdown.split(f"### {heading}\n", 1)[1].strip().split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


@pytest.mark.slow
def test_quick_compare_writes_a_sane_table_and_figure(tmp_path):
    main(["--quick", "--tasks", "mixture8d", "--methods", "random,bo,ucb", "--out", str(tmp_path)])
    markdown = (tmp_path / "compare_quick.md").read_text()
    assert (tmp_path / "compare_quick.png").stat().st_size > 10_000
    assert "python scripts/bench_campaign.py --compare --quick" in markdown
    runs = [json.loads(line) for line in (tmp_path / "compare_quick_runs.jsonl").read_text().splitlines()]
    assert len(runs) == 6 and all(len(r["observed"]) == 24 for r in runs)
    # all methods share round 0 for a seed
    first = {r["method"]: r["observed"][:8] for r in runs if r["regime"] == "A"}
    assert first["random"] == first["bo"] == first["ucb"]
    for regime in "AB":
        rows = _rows(markdown, f"mixture8d, regime {regime}")
        assert set(rows) == {"random prior samples", "standard BO (qLogEI, box)", "oboptim GP+UCB"}
        for cells in rows.values():
            assert re.fullmatch(r"-?[\d.e+-]+ \[-?[\d.e+-]+, -?[\d.e+-]+\]", cells[0])
            regret = float(cells[0].split()[0])
            assert 0 <= regret < 8  # Ackley values of this task lie in (-8, 0]
            assert 0 <= float(cells[1]) <= 1 and 0 <= float(cells[2]) <= 1
        # prior samples sit on the manifold by construction (1st-percentile threshold)
        assert float(rows["random prior samples"][1]) >= 0.85
        assert float(rows["oboptim GP+UCB"][1]) >= 0.85
        # in 8-D the box of the prior samples is almost all off the 8 blobs
        assert float(rows["standard BO (qLogEI, box)"][1]) < 0.5
    rows_b = _rows(markdown, "mixture8d, regime B")
    assert float(rows_b["standard BO (qLogEI, box)"][2]) > 0.5
    assert float(rows_b["oboptim GP+UCB"][2]) <= 0.15
    assert all(float(cells[2]) == 0 for cells in _rows(markdown, "mixture8d, regime A").values())


def test_regime_b_fails_exactly_off_the_manifold():
    problem = build_problem("gmm2d")
    oracle = RegimeOracle(problem, "B", threshold=-8.0)
    x = np.array([[4.0, 4.0], [2.0, 2.0], [0.0, 0.1]])
    values = oracle(x)
    assert math.isnan(values[1]) and not math.isnan(values[0]) and not math.isnan(values[2])
    assert RegimeOracle(problem, "A", threshold=-8.0)(x)[1] == pytest.approx(-4.0, abs=0.5)
    with pytest.raises(ValueError, match="regime"):
        RegimeOracle(problem, "C", threshold=0.0)


def test_manifold_threshold_is_the_first_percentile_of_prior_samples():
    problem = build_problem("mixture8d", steps=20)
    prior = problem.task.load_prior("cpu")
    manifold = measure_manifold(problem, prior, 1000)
    fresh = sample_prior(prior, 1000, 20, torch.Generator().manual_seed(7))
    assert np.mean(problem.log_density(fresh) >= manifold.threshold) == pytest.approx(0.99, abs=0.01)
    # the coarse grid concentrates the samples a little, but the exact data mostly pass too
    data = problem.task.sample_data(1000, np.random.default_rng(0))
    assert np.mean(problem.log_density(data) >= manifold.threshold) > 0.8
    assert manifold.lower.shape == (8,) and np.all(manifold.upper - manifold.lower > 2)


def test_gmm2d_corner_oracle_and_exact_density():
    oracle = gmm2d.TASK.named_oracles["corner"](None)
    values = oracle(np.array([[4.0, 4.0], [-4.0, -4.0]]))
    assert abs(values[0]) < 0.4 and values[1] == pytest.approx(-64.0, abs=0.4)
    with pytest.raises(ValueError, match="no argument"):
        gmm2d.TASK.named_oracles["corner"]("1")
    # normalised: a grid integral of exp(log_density) is 1
    grid = np.stack(np.meshgrid(np.linspace(-8, 8, 321), np.linspace(-8, 8, 321)), -1).reshape(-1, 2)
    assert np.exp(gmm2d.log_density(grid)).sum() * 0.05**2 == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_swissroll_exact_density_is_normalised_and_peaks_on_the_roll():
    rng = np.random.default_rng(0)
    lower, upper = np.array([-7.6, -7.6, -3.5]), np.array([7.6, 7.6, 3.5])
    uniform = rng.uniform(lower, upper, size=(20_000, 3))
    integral = np.exp(swissroll3d.log_density(uniform)).mean() * np.prod(upper - lower)
    assert integral == pytest.approx(1.0, abs=0.1)  # Monte Carlo error ~0.03 at 20,000 points
    on_roll = swissroll3d.sample_data(500, rng)
    assert np.percentile(swissroll3d.log_density(on_roll), 5) > swissroll3d.log_density(np.zeros((1, 3)))[0] + 100


def test_helpers():
    np.testing.assert_array_equal(impute_failures(np.array([np.nan, 2.0, -1.0, np.nan])), [-1.0, 2.0, -1.0, -1.0])
    np.testing.assert_array_equal(best_so_far([None, -3.0, None, -1.0, -2.0]), [-np.inf, -3, -3, -1, -1])
    assert parse_method("ucb[beta=4,selection=argmax]") == ("ucb", {"beta": 4, "selection": "argmax"})
    with pytest.raises(ValueError, match="unknown method"):
        parse_method("adam")
    with pytest.raises(ValueError, match="not an oboptim setting"):
        parse_method("bo[beta=2]")


def test_only_the_default_method_follows_the_library_defaults():
    from oboptim import CampaignSettings
    from oboptim._settings import LEGACY_DEFAULTS
    from oboptim.benchmark._compare import comparable, method_settings

    problem = build_problem("hartmann6d")
    default = CampaignSettings(**method_settings(problem, "default", {}))
    assert default == CampaignSettings(batch_size=default.batch_size)  # the library's, nothing else
    ucb = CampaignSettings(**method_settings(problem, "ucb", {"beta": 4}))
    assert (ucb.acquisition, ucb.selection, ucb.manifold_check, ucb.beta) == ("ucb", "resample", 0.0, 4.0)
    assert (ucb.alpha, ucb.alpha_units, ucb.particles) == (0.05, "std", 32)  # the toys' pinned settings
    assert method_settings(problem, "greedy", {})["steps"] == LEGACY_DEFAULTS["steps"] // 2  # pinned 50, not 100
    digits = method_settings(build_problem("digits-margin"), "default", {})
    assert (digits["particles"], digits["steps"]) == (8, 20)  # the digits cost caps apply to the default too
    sig = "b16x8,alpha=0.05,thr2048"
    assert comparable(sig, "default").startswith(sig + ",defaults=") and comparable(sig, "ucb") == sig
    assert comparable(comparable(sig, "default"), "default") == comparable(sig, "default")


def test_research_settings_that_were_not_ported_are_refused_clearly():
    for spec in ("ucb[alpha_units=kl]", "ucb[kl_budget=3]", "default[selection=mix]", "greedy[trust_region=turbo]",
                 "ucb[acquisition=ts_batch]", "default[selection=group_best]"):
        with pytest.raises(ValueError, match=re.escape(spec)):
            parse_method(spec)
    assert parse_method("default[manifold_check=0,top_fraction=0.25]") == (
        "default", {"manifold_check": 0, "top_fraction": 0.25})
    with pytest.raises(ValueError, match="not an oboptim setting"):
        parse_method("turbo[beta=2]")


def test_turbo_starts_from_the_prior_round_and_stays_in_its_box():
    from oboptim.benchmark import TrustRegion, trust_region_bayesopt

    problem = build_problem("gmm2d")
    prior = problem.task.load_prior("cpu")
    oracle = RegimeOracle(problem, "A", threshold=-1e9)
    lower, upper = np.array([-6.0, -6.0]), np.array([6.0, 6.0])
    rounds = trust_region_bayesopt(prior, oracle, seed=0, batch_size=4, rounds=2, steps=10, lower=lower, upper=upper)
    assert [r[0].shape for r in rounds] == [(4, 2), (4, 2)]
    assert np.all(rounds[1][0] >= lower - 1e-5) and np.all(rounds[1][0] <= upper + 1e-5)
    region = TrustRegion(dim=2, batch_size=4)
    region.best_value = 0.0
    for _ in range(region.failure_tolerance):
        region.update(np.array([-1.0]))
    assert region.length == pytest.approx(0.4)  # halved after failure_tolerance rounds without improvement
    for value in (1.0, 2.0, 3.0):
        region.update(np.array([value]))
    assert region.length == pytest.approx(0.8)  # doubled after 3 successes
