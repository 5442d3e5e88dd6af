"""Conformance suites that every implementation of a protocol runs (a resampler, a surrogate, a feature map, an oracle,
a storage backend), and closed-form targets for testing samplers.

Subclass a suite in your own tests and say how to build your implementation; see each suite's docstring.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.testing._closed_form_targets": ["ABAR", "gaussian_eps_fn", "gaussian_target", "pooled_moments"],
    "oboptim.testing._oracle_suite": ["OracleConformance"],
    "oboptim.testing._resampler_suite": ["ResamplerConformance", "offspring_counts"],
    "oboptim.testing._storage_suite": ["StorageConformance"],
    "oboptim.testing._surrogate_suite": ["FeatureMapConformance", "SurrogateConformance", "seeded", "sin_data"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.testing._closed_form_targets import ABAR, gaussian_eps_fn, gaussian_target, pooled_moments
    from oboptim.testing._oracle_suite import OracleConformance
    from oboptim.testing._resampler_suite import ResamplerConformance, offspring_counts
    from oboptim.testing._storage_suite import StorageConformance
    from oboptim.testing._surrogate_suite import FeatureMapConformance, SurrogateConformance, seeded, sin_data
