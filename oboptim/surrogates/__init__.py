"""Surrogate models of the black-box score: the protocol, a Gaussian process, a bootstrap ensemble, feature maps.

Extension point: :data:`SURROGATES` (see :class:`oboptim.Registry`).
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim._registry": ["SURROGATES"],
    "oboptim.surrogates._base": [
        "FitReport", "SamplePath", "Surrogate", "SurrogateDataError", "SurrogateFitWarning",
        "SurrogateNotFittedError"
    ],
    "oboptim.surrogates._ensemble": ["EnsembleSurrogate"],
    "oboptim.surrogates._features": ["FeatureMap", "IdentityFeatures"],
    "oboptim.surrogates._gp": ["GPSurrogate", "HammingGPSurrogate"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim._registry import SURROGATES
    from oboptim.surrogates._base import (
        FitReport,
        SamplePath,
        Surrogate,
        SurrogateDataError,
        SurrogateFitWarning,
        SurrogateNotFittedError,
    )
    from oboptim.surrogates._ensemble import EnsembleSurrogate
    from oboptim.surrogates._features import FeatureMap, IdentityFeatures
    from oboptim.surrogates._gp import GPSurrogate, HammingGPSurrogate
