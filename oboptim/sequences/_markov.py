"""The exact denoiser of a discrete Markov chain prior, fitted to sample sequences by counting.

If the clean tokens follow a first-order Markov chain (initial distribution ``pi [V]``, transition matrix
``T [V, V]``) and ``x_t = sqrt(abar_t) · scale · (2 · one_hot(x0) - 1) + sqrt(1 - abar_t) · noise``, the posterior
``p(x0 | x_t)`` is a hidden Markov model whose emission log-likelihoods are ``e_l(k) = c(t) · x_t[l, k]`` (plus a
constant) with ``c(t) = 2 · scale · sqrt(abar_t) / (1 - abar_t)``. Forward-backward in log space gives the exact
posterior marginals, hence the exact minimum-MSE estimate ``scale · (2 · p(x0_l = k | x_t) - 1)``, in ``O(L V^2)``
per sequence and differentiable.

Each step of the recursions is ``out_k = log sum_j exp(a_j) T_jk`` (up to a constant per row, which cancels). It runs
in float64 as a matrix product of ``exp(a - max a)`` with ``T`` (``[B, V] @ [V, V]``); where that underflows (to zero
or near it) although a path of non-zero probability exists (very low noise, where the log-probabilities of the states
span more than float64's range), those rows are recomputed by a ``logsumexp`` over ``[b, V, V]``, so the result
equals the plain log-space recursion. A zero transition gives ``-inf`` throughout, with zero (never NaN) gradients.
"""

from __future__ import annotations

import json

import torch
from torch import Tensor

MARKOV_CONFIG_KEY = "oboptim_markov_denoiser_config"


def _safe_log(s: Tensor) -> Tensor:
    """``log s`` for ``s >= 0``, ``-inf`` where ``s == 0`` with a zero (not NaN) gradient there."""
    positive = s > 0
    return torch.where(positive, torch.where(positive, s, torch.ones_like(s)).log(), torch.full_like(s, -torch.inf))


def _finite_max(a: Tensor, dim: int) -> Tensor:
    """``max`` over ``dim`` (kept), detached, 0 where every entry is ``-inf``: a stabiliser that never makes NaN."""
    m = a.detach().amax(dim, keepdim=True)
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _logsumexp(z: Tensor, dim: int) -> Tensor:
    """``logsumexp`` whose all ``-inf`` slices give ``-inf`` with a zero gradient (torch's gives NaN there)."""
    m = _finite_max(z, dim)
    return _safe_log(torch.exp(z - m).sum(dim)) + m.squeeze(dim)


def _log_step(a: Tensor, matrix: Tensor, log_matrix: Tensor, support: Tensor) -> Tensor:
    """``out[b, k] = log sum_j exp(a[b, j]) matrix[j, k] - max_j a[b, j]``, exactly, for ``a [B, V]`` (entries may
    be ``-inf``; the shift by a constant per row keeps the recursions' values small and cancels in the marginals)."""
    m = _finite_max(a, -1)
    a = a - m
    s = torch.exp(a) @ matrix
    out = _safe_log(s)
    accurate = s > torch.finfo(s.dtype).tiny * 2.0**24
    if bool(accurate.all()):
        return out
    # A zero or a tiny sum may have lost terms to underflow (the terms dropped are 2^-24 times smaller than the
    # threshold at most): recompute in log space the rows where a finite predecessor reaches such an entry (an entry
    # no finite predecessor reaches is a true zero, -inf).
    reachable = (torch.isfinite(a).to(support.dtype) @ support) > 0
    rows = (reachable & ~accurate).any(-1).nonzero().squeeze(-1)
    if rows.numel() == 0:
        return out
    exact = _logsumexp(a[rows].unsqueeze(-1) + log_matrix, dim=1)
    return out.index_put((rows,), exact)


class MarkovChainDenoiser(torch.nn.Module):
    """Exact posterior marginals of a first-order Markov chain observed through Gaussian noise.

    Args:
        initial: ``[V]`` distribution of the first state (zeros allowed).
        transition: ``[V, V]`` row-stochastic matrix, ``transition[j, k] = p(k | j)`` (zeros allowed: a zero
            transition stays impossible in every posterior).
        alphas_cumprod: ``[T]`` the diffusion schedule.
        scale: the relaxation's scale.

    Example:
        >>> chain = MarkovChainDenoiser(torch.full((2,), 0.5), torch.tensor([[0.5, 0.5], [1.0, 0.0]]),
        ...                             torch.linspace(0.99, 0.01, 10))
        >>> chain(torch.zeros(1, 3, 2), torch.tensor([9])).exp().sum(-1)
        tensor([[1., 1., 1.]])
    """

    def __init__(self, initial: Tensor, transition: Tensor, alphas_cumprod: Tensor, scale: float = 1.0) -> None:
        super().__init__()
        initial = torch.as_tensor(initial, dtype=torch.float32).detach().clone()
        transition = torch.as_tensor(transition, dtype=torch.float32).detach().clone()
        alphas_cumprod = torch.as_tensor(alphas_cumprod, dtype=torch.float32).detach().clone()
        num_states = initial.shape[0] if initial.ndim == 1 else -1
        if initial.ndim != 1 or num_states < 2 or tuple(transition.shape) != (num_states, num_states):
            raise ValueError(f"expected initial [V] and transition [V, V] with V >= 2, got {tuple(initial.shape)} "
                             f"and {tuple(transition.shape)}")
        if bool((initial < 0).any()) or bool((transition < 0).any()) or not bool(initial.sum() > 0) \
                or not bool((transition.sum(-1) > 0).all()):
            raise ValueError("initial and every row of transition must be non-negative with a positive sum")
        if alphas_cumprod.ndim != 1 or not bool(((alphas_cumprod > 0) & (alphas_cumprod <= 1)).all()):
            raise ValueError("alphas_cumprod must be a 1-D schedule with entries in (0, 1]")
        self.scale = float(scale)
        self.num_states = int(num_states)
        self.register_buffer("initial", initial / initial.sum())
        self.register_buffer("transition", transition / transition.sum(-1, keepdim=True))
        self.register_buffer("alphas_cumprod", alphas_cumprod)
        # Derived once, not saved: the recursions' matrices in both directions, their logs and supports, in float64
        # (whose range keeps the fast matrix-product step exact down to lower noise levels than float32's).
        forward, backward = self.transition.double(), self.transition.double().T.contiguous()
        self.register_buffer("log_initial", _safe_log(self.initial.double()), persistent=False)
        self.register_buffer("_forward", forward, persistent=False)
        self.register_buffer("_backward", backward, persistent=False)
        self.register_buffer("_log_forward", _safe_log(forward), persistent=False)
        self.register_buffer("_log_backward", _safe_log(backward), persistent=False)
        self.register_buffer("_support_forward", (forward > 0).double(), persistent=False)
        self.register_buffer("_support_backward", (backward > 0).double(), persistent=False)

    @property
    def log_transition(self) -> Tensor:
        """``[V, V]`` log transition matrix (``-inf`` for zero transitions)."""
        return self._log_forward.to(self.transition.dtype)

    def emissions(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Emission log-likelihoods ``c(t) · x_t`` up to a constant per position, ``[B, L, V]`` (computation dtype)."""
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(x_t.shape[0])
        abar = self.alphas_cumprod[t].to(self._forward.dtype).view(-1, 1, 1)
        emission = 2 * self.scale * abar.sqrt() / (1 - abar).clamp_min(1e-8) * x_t.to(self._forward.dtype)
        return emission - emission.detach().amax(-1, keepdim=True)

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Log posterior marginals ``log p(x0_l = k | x_t)``, ``[B, L, V]`` float32 (normalised per position).

        Args:
            x_t: ``[B, L, V]`` noisy relaxed particles.
            t: ``[B]`` (or scalar) integer timesteps.
        """
        if x_t.ndim != 3 or x_t.shape[-1] != self.num_states:
            raise ValueError(f"expected x_t [B, L, {self.num_states}], got {tuple(x_t.shape)}")
        emission = self.emissions(x_t, t)
        length = x_t.shape[1]
        alpha = [self.log_initial + emission[:, 0]]
        for pos in range(1, length):
            alpha.append(emission[:, pos] + _log_step(alpha[-1], self._forward, self._log_forward,
                                                      self._support_forward))
        beta = [torch.zeros_like(alpha[0])]
        for pos in range(length - 1, 0, -1):
            beta.append(_log_step(emission[:, pos] + beta[-1], self._backward, self._log_backward,
                                  self._support_backward))
        beta.reverse()
        joint = torch.stack(alpha, 1) + torch.stack(beta, 1)
        return torch.log_softmax(joint, dim=-1).float()

    def predict_x0(self, x_t: Tensor, t: Tensor) -> Tensor:
        """The posterior mean ``scale · (2 · p(x0 | x_t) - 1)``, ``[B, L, V]``."""
        return self.scale * (2 * self(x_t, t).exp() - 1)


def fit_markov_chain(tokens: Tensor, num_states: int) -> tuple[Tensor, Tensor]:
    """Maximum-likelihood first-order Markov chain of ``tokens [n, L]``: ``(initial [V], transition [V, V])``.

    No smoothing: a transition never seen in the data gets probability 0, so the fitted prior never proposes it
    (for data drawn from a sparse chain, every allowed transition is seen once ``n · L`` is large enough). A state
    never seen as a predecessor gets a uniform row, which sampling never reaches.
    """
    tokens = torch.as_tensor(tokens)
    if tokens.ndim != 2 or tokens.shape[0] < 1 or tokens.shape[1] < 2 or tokens.is_floating_point():
        raise ValueError(f"expected integer tokens [n, L] with n >= 1 and L >= 2, got {tuple(tokens.shape)} "
                         f"{tokens.dtype}")
    tokens = tokens.long()
    if int(tokens.min()) < 0 or int(tokens.max()) >= num_states:
        raise ValueError(f"states must lie in [0, {num_states}), got {int(tokens.min())}..{int(tokens.max())}")
    initial = torch.bincount(tokens[:, 0], minlength=num_states).double()
    pairs = tokens[:, :-1] * num_states + tokens[:, 1:]
    counts = torch.bincount(pairs.reshape(-1), minlength=num_states * num_states).double().view(num_states, -1)
    rows = counts.sum(-1, keepdim=True)
    transition = torch.where(rows > 0, counts / rows.clamp_min(1), torch.full_like(counts, 1 / num_states))
    return (initial / initial.sum()).float(), transition.float()


def save_markov_denoiser(model: MarkovChainDenoiser, path, metadata: dict | None = None) -> None:
    """Initial distribution, transition matrix and schedule as safetensors; each ``metadata`` value is stored as
    JSON under its key."""
    from safetensors.torch import save_file

    tensors = {"initial": model.initial.detach().cpu().contiguous(),
               "transition": model.transition.detach().cpu().contiguous(),
               "alphas_cumprod": model.alphas_cumprod.detach().cpu().contiguous()}
    extra = {str(key): json.dumps(value, sort_keys=True) for key, value in (metadata or {}).items()}
    if MARKOV_CONFIG_KEY in extra:
        raise ValueError(f"metadata key {MARKOV_CONFIG_KEY!r} is reserved")
    save_file(tensors, str(path), metadata={**extra, MARKOV_CONFIG_KEY: json.dumps({"scale": model.scale})})


def load_markov_denoiser(path) -> tuple[MarkovChainDenoiser, dict]:
    """``(model, metadata)`` from a file written by :func:`save_markov_denoiser` (the model in eval mode, on CPU)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as handle:
        metadata = dict(handle.metadata() or {})
        state = {name: handle.get_tensor(name) for name in handle.keys()}
    if MARKOV_CONFIG_KEY not in metadata or not {"initial", "transition", "alphas_cumprod"} <= set(state):
        raise ValueError(f"{path} is not a Markov chain denoiser file (written by save_markov_denoiser)")
    config = json.loads(metadata.pop(MARKOV_CONFIG_KEY))
    model = MarkovChainDenoiser(state["initial"], state["transition"], state["alphas_cumprod"], scale=config["scale"])
    return model.eval(), {key: json.loads(value) for key, value in metadata.items()}


__all__ = ["MarkovChainDenoiser", "fit_markov_chain", "load_markov_denoiser", "save_markov_denoiser"]
