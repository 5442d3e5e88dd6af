"""Surrogate models of the black-box score: protocol, Gaussian process, bootstrap ensemble, feature maps."""

from oboptim.surrogates.base import (
    FitReport,
    SamplePath,
    Surrogate,
    SurrogateDataError,
    SurrogateFitWarning,
    SurrogateNotFittedError,
)
from oboptim.surrogates.ensemble import EnsembleSurrogate
from oboptim.surrogates.features import FeatureMap, IdentityFeatures
from oboptim.surrogates.gp import GPSurrogate

SURROGATES = {"gp": GPSurrogate, "ensemble": EnsembleSurrogate}

__all__ = ["SURROGATES", "EnsembleSurrogate", "FeatureMap", "FitReport", "GPSurrogate", "IdentityFeatures",
           "SamplePath", "Surrogate", "SurrogateDataError", "SurrogateFitWarning", "SurrogateNotFittedError"]
