"""The sample-efficiency benchmark (``scripts/bench_campaign.py --compare``): problems, baselines and the comparison.

- :mod:`oboptim.benchmark.problems`: each benchmark problem's oracle, noise-free value, optimum and manifold test;
- :mod:`oboptim.benchmark.baselines`: random prior sampling and box-constrained BoTorch qLogEI;
- :mod:`oboptim.benchmark.compare`: runs every method on every problem and regime, and writes the table and figure.
"""
