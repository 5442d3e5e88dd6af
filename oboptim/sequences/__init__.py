"""Discrete sequences as a design space: the space itself, its one-hot relaxation, and diffusion priors over it.

- :class:`SequenceSpace`: what a sequence task's candidates are (``[B, L]`` integers) and how they are shown;
- :class:`OneHotRelaxation`: tokens ``[B, L]`` <-> relaxed particles ``[B, L, V]`` the DAS sampler moves;
- :class:`MarkovChainDenoiser` and :func:`fit_markov_chain`: the exact denoiser of a first-order Markov chain
  fitted to sample sequences (forward-backward), a diffusion prior trained on data by counting;
- :func:`sequence_prior`: a :class:`oboptim.priors.DiffusionPrior` over relaxed sequences.

Names load lazily: reading commands show sequences through :class:`SequenceSpace` without importing torch.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.sequences._markov": ["MarkovChainDenoiser", "fit_markov_chain", "load_markov_denoiser",
                                  "save_markov_denoiser"],
    "oboptim.sequences._prior": ["sequence_prior", "sequence_schedule"],
    "oboptim.sequences._relaxation": ["OneHotRelaxation"],
    "oboptim.sequences._space": ["SequenceSpace", "default_alphabet"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.sequences._markov import (
        MarkovChainDenoiser,
        fit_markov_chain,
        load_markov_denoiser,
        save_markov_denoiser,
    )
    from oboptim.sequences._prior import sequence_prior, sequence_schedule
    from oboptim.sequences._relaxation import OneHotRelaxation
    from oboptim.sequences._space import SequenceSpace, default_alphabet
