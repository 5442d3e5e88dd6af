"""``ehrlich``: holo-bench's Ehrlich functions (Stanton et al. 2024, arXiv 2407.00236) as a sequence task.

An Ehrlich function scores a sequence ``x`` of ``length`` states out of ``num_states``:

- **feasibility**: ``x`` must have non-zero probability under a discrete Markov process (DMP) with a banded,
  shuffled transition matrix (for 32 states, 25-26 successors of each state are allowed); an infeasible sequence
  scores ``-inf``, which a campaign records as a failed trial;
- **objective**: ``prod_i q(h_i(x))`` over ``num_motifs`` spaced motifs of ``motif_length`` states, where ``h_i`` is
  the largest fraction of motif ``i`` present at its spacing at any offset, quantized down to ``quantization``
  levels. Values lie in ``[0, 1]``; 1.0 is the known optimum (every motif complete).

The oracle is holo's own class, ``holo.test_functions.closed_form.Ehrlich`` (PyPI ``pytorch-holo``), so values
equal holo's by construction. holo pins ``numpy<2`` and packages oboptim does not need, so it is not a core
dependency: ``make`` installs it with ``pip install --no-deps pytorch-holo==0.0.5`` plus the ``sequences`` extra
(pandas and pooch, which holo imports), which leaves the project's numpy alone.

The prior is a first-order Markov chain fitted to 20,000 sequences drawn from the function's DMP, used through its
exact denoiser (:class:`oboptim.sequences.MarkovChainDenoiser`). The default instances ship their fitted chains in
``data/`` (``scripts/train_ehrlich_prior.py`` writes them, with their provenance); for other options the chain is
fitted when the prior loads (under a second), from DMP samples seeded by the function seed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from oboptim import TASKS, Task
from oboptim.sequences import SequenceSpace, default_alphabet

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
if not DATA_DIR.is_dir():  # installed: data/ is the package oboptim.data
    import oboptim.data

    DATA_DIR = Path(oboptim.data.__file__).resolve().parent

# How many DMP sequences the prior's chain is fitted to, and the seed offset of that draw (distinct from seeds a
# benchmark uses for its random baseline).
PRIOR_TRAINING_SAMPLES = 20_000
PRIOR_DATA_SEED_OFFSET = 10_007
HOLO_INSTALL = "pip install --no-deps pytorch-holo==0.0.5 && pip install 'oboptim[sequences]'"


@dataclass(frozen=True)
class EhrlichSpec:
    """One Ehrlich instance: holo's constructor arguments (``dim`` is ``length``, ``random_seed`` is
    ``function_seed``); the function is noise free and maximised."""

    num_states: int = 32
    length: int = 32
    num_motifs: int = 2
    motif_length: int = 4
    quantization: int = 4
    function_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("num_states", "length", "num_motifs", "motif_length", "quantization"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}")
        seed = self.function_seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ValueError(f"function_seed must be a whole number in [0, 2**63); got {seed!r}")
        default_alphabet(self.num_states)  # 2..62 states
        if self.num_motifs * self.motif_length > self.length:
            raise ValueError(f"num_motifs * motif_length ({self.num_motifs * self.motif_length}) must not exceed "
                             f"length ({self.length})")
        if self.quantization > self.motif_length:
            raise ValueError(f"quantization ({self.quantization}) must not exceed motif_length ({self.motif_length})")

    @property
    def tag(self) -> str:
        """Short name, e.g. ``v32_l32_c2_k4_q4_s0`` (names the prior's weight file)."""
        return (f"v{self.num_states}_l{self.length}_c{self.num_motifs}_k{self.motif_length}"
                f"_q{self.quantization}_s{self.function_seed}")

    @property
    def prior_path(self) -> Path:
        """Where the fitted chain of this instance is shipped (it may not exist)."""
        return DATA_DIR / f"ehrlich_{self.tag}_markov.safetensors"

    def to_dict(self) -> dict:
        return asdict(self)


# The benchmark's instances: (a) small, (b) harder, (c) holo-bench's default. Each ships its fitted prior.
INSTANCES = {
    "a": EhrlichSpec(32, 32, 2, 4, 4, 0),
    "b": EhrlichSpec(32, 128, 4, 4, 4, 0),
    "c": EhrlichSpec(32, 256, 4, 8, 8, 0),
}


def make_function(spec: EhrlichSpec):
    """holo's ``Ehrlich`` for ``spec`` (noise free, not negated); a one-line ImportError without holo."""
    try:
        from holo.test_functions.closed_form import Ehrlich
    except ImportError:
        raise ImportError(f"the ehrlich task needs pytorch-holo, which is not installed: {HOLO_INSTALL}") from None
    return Ehrlich(num_states=spec.num_states, dim=spec.length, num_motifs=spec.num_motifs,
                   motif_length=spec.motif_length, quantization=spec.quantization, noise_std=0.0, negate=False,
                   random_seed=spec.function_seed)


def evaluate(function, x) -> np.ndarray:
    """holo's value of each row of ``x [B, L]`` (integers): ``[B]`` float64, ``-inf`` where infeasible."""
    rows = torch.as_tensor(np.asarray(x), dtype=torch.long).reshape(-1, function.dim)
    with torch.no_grad():
        return function(rows).double().numpy()


def is_feasible(function, x) -> np.ndarray:
    """``[B]`` bool: every transition of each row of ``x [B, L]`` is allowed by the function's DMP."""
    rows = torch.as_tensor(np.asarray(x), dtype=torch.long).reshape(-1, function.dim)
    allowed = function.transition_matrix > 0
    return allowed[rows[:, :-1], rows[:, 1:]].all(-1).numpy()


def sample_feasible(function, n: int, seed: int) -> np.ndarray:
    """``n`` sequences ``[n, L]`` int64 drawn from the function's DMP (stationary start), seeded by ``seed``."""
    from holo.test_functions.elemental import sample_dmp

    generator = torch.Generator().manual_seed(seed)
    samples = sample_dmp(initial_dist=function.stationary_dist.squeeze(-1),
                         transition_matrix=function.transition_matrix, num_steps=function.dim, num_samples=n,
                         generator=generator)
    return samples.numpy().astype(np.int64)


def fit_prior_chain(spec: EhrlichSpec, function=None):
    """The prior's chain for ``spec`` fitted to :data:`PRIOR_TRAINING_SAMPLES` DMP draws:
    ``(MarkovChainDenoiser, metadata)``."""
    from oboptim.sequences import MarkovChainDenoiser, fit_markov_chain, sequence_schedule

    function = make_function(spec) if function is None else function
    data = sample_feasible(function, PRIOR_TRAINING_SAMPLES, spec.function_seed + PRIOR_DATA_SEED_OFFSET)
    initial, transition = fit_markov_chain(torch.from_numpy(data), spec.num_states)
    denoiser = MarkovChainDenoiser(initial, transition, sequence_schedule().alphas_cumprod)
    metadata = {"spec": spec.to_dict(), "training_samples": PRIOR_TRAINING_SAMPLES,
                "data_seed": spec.function_seed + PRIOR_DATA_SEED_OFFSET, "source": "holo sample_dmp"}
    return denoiser, metadata


def load_prior_chain(spec: EhrlichSpec):
    """The shipped chain of ``spec`` if there is one, else one fitted now (deterministic)."""
    from oboptim.sequences import load_markov_denoiser

    if spec.prior_path.is_file():
        denoiser, _ = load_markov_denoiser(spec.prior_path)
        return denoiser
    return fit_prior_chain(spec)[0]


def space_of(spec: EhrlichSpec) -> SequenceSpace:
    return SequenceSpace(default_alphabet(spec.num_states), spec.length)


# The library's defaults for sequences (oboptim.SEQUENCE_DEFAULTS) apply; only the run length is the task's own.
DEFAULTS = {"budget": 1000}


def make_task(num_states: int = 32, length: int = 32, num_motifs: int = 2, motif_length: int = 4,
              quantization: int = 4, function_seed: int = 0) -> Task:
    """The Ehrlich task of these options (holo's constructor arguments); a bad option raises a one-line error."""
    spec = EhrlichSpec(num_states, length, num_motifs, motif_length, quantization, function_seed)
    return dataclasses.replace(TASK, sequence=space_of(spec), oracle=_lazy_oracle(spec),
                               load_prior=lambda device: _load_prior(spec, device),
                               defaults={**DEFAULTS, "particle_batch_size": particle_batch_size_for(spec)})


DENOISER_MEMORY_BYTES = 512 * 2**20
"""What one call of the Markov denoiser may hold, with its gradient: long sequences are denoised in chunks."""
BYTES_PER_PARTICLE_POSITION_TRANSITION = 48
"""The forward-backward's working set per particle, per position and per transition (V^2), with its autograd graph:
measured 2.3 GB above the interpreter's for 400 particles at length 128 and 32 states (6 float64 tensors of
[L, V, V] a particle); chunks of 100 particles peaked at 0.98 GB in all, with the same proposals."""


def particle_batch_size_for(spec: EhrlichSpec) -> int:
    """Particles per denoiser call that keep one call within :data:`DENOISER_MEMORY_BYTES` (the campaign's
    ``--particle-batch-size`` default for this instance; chunking changes no result)."""
    per_particle = BYTES_PER_PARTICLE_POSITION_TRANSITION * spec.length * spec.num_states**2
    return max(1, DENOISER_MEMORY_BYTES // per_particle)


def _load_prior(spec: EhrlichSpec, device):
    from oboptim.sequences import OneHotRelaxation, sequence_prior

    denoiser = load_prior_chain(spec).to(device)
    return sequence_prior(denoiser, OneHotRelaxation(spec.num_states, spec.length))


def _lazy_oracle(spec: EhrlichSpec):
    """holo's function is built on the first call, so that listing tasks or reading a campaign needs no holo."""
    cache: dict = {}

    def ehrlich_oracle(x: np.ndarray) -> list[float]:
        if "f" not in cache:
            cache["f"] = make_function(spec)
        return [float(v) for v in evaluate(cache["f"], x)]

    return ehrlich_oracle


_DEFAULT = EhrlichSpec()
TASK = Task(
    name="ehrlich",
    description=TASKS.help("ehrlich"),
    load_prior=lambda device: _load_prior(_DEFAULT, device),
    oracle=_lazy_oracle(_DEFAULT),
    # features: the Task default, x.flatten(1): per-position probabilities (or one-hots) [B, L, V] -> [B, L V]; with
    # hamming-gp's isotropic RBF kernel on one-hots this is the exponentiated Hamming kernel.
    defaults={**DEFAULTS, "particle_batch_size": particle_batch_size_for(_DEFAULT)},
    sequence=space_of(_DEFAULT),
)
