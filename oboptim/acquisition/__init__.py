"""Acquisitions: a fitted surrogate's posterior as a differentiable reward for the sampler.

Extension point: :data:`ACQUISITIONS` (see :class:`oboptim.Registry`).
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim._registry": ["ACQUISITIONS"],
    "oboptim.acquisition._base": ["Acquisition", "AcquisitionError", "AcquisitionOptions", "ignores_pending",
                                  "make_acquisition", "reads_pending"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim._registry import ACQUISITIONS
    from oboptim.acquisition._base import (
        Acquisition,
        AcquisitionError,
        AcquisitionOptions,
        ignores_pending,
        make_acquisition,
        reads_pending,
    )
