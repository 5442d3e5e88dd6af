"""The sample-efficiency benchmark (``scripts/bench_campaign.py --compare``) and sample-quality metrics.

- problems: each benchmark problem's oracle, noise-free value, optimum and manifold test;
- baselines: random prior sampling, box-constrained BoTorch qLogEI and TuRBO-1;
- the comparison: runs every method on every problem and regime, and writes the table and figure;
- metrics: the exact 2-Wasserstein distance on random subsets, and its noise floor.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.benchmark._baselines": [
        "TrustRegion", "box_bayesopt", "impute_failures", "random_search", "trust_region_bayesopt"
    ],
    "oboptim.benchmark._compare": [
        "METHODS", "QUICK", "CompareConfig", "main", "parse_method", "run_comparison", "summarise"
    ],
    "oboptim.benchmark._metrics": ["WassersteinSummary", "noise_floor", "subset_wasserstein", "wasserstein2"],
    "oboptim.benchmark._problems": [
        "PROBLEMS", "REGIMES", "Manifold", "Problem", "RegimeOracle", "build_problem", "measure_manifold",
        "nearest_digit_log_kernel"
    ],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.benchmark._baselines import (
        TrustRegion,
        box_bayesopt,
        impute_failures,
        random_search,
        trust_region_bayesopt,
    )
    from oboptim.benchmark._compare import METHODS, QUICK, CompareConfig, main, parse_method, run_comparison, summarise
    from oboptim.benchmark._metrics import WassersteinSummary, noise_floor, subset_wasserstein, wasserstein2
    from oboptim.benchmark._problems import (
        PROBLEMS,
        REGIMES,
        Manifold,
        Problem,
        RegimeOracle,
        build_problem,
        measure_manifold,
        nearest_digit_log_kernel,
    )
