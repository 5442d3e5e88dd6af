"""The GP surrogate's cached posterior: exact for small histories, sparse (inducing points) for large ones.

Inputs are unit-cube coordinates ``z`` and values are standardized; ``k`` is the fitted kernel, ``c`` the constant
mean, ``s2`` the noise variance and ``r = y - c`` the residuals of the ``n`` conditioning points ``Z``. Both forms
have one shape, so the surrogate evaluates them with the same two matrix products:

    mean(z) = c + k(z, U) w            var(z) = k(z, z) - |E k(U, z)|^2

- **Exact** (``U = Z``): with ``K = k(Z, Z) + s2 I = L L^T``, ``w = K^{-1} r`` and ``E = L^{-1}``. A call on ``N``
  points costs ``O(N n (n + F))``.
- **Sparse**, the collapsed variational posterior of Titsias (2009), "SGPR": ``m`` inducing inputs ``U`` chosen
  among the data, ``k(U, U) = L L^T``, ``R = L^{-1}``, ``A = R k(U, Z) / s`` and ``B = I + A A^T = V diag(b) V^T``.
  Then ``w = R^T B^{-1} A r / s`` and ``E = diag(sqrt(1 - 1/b)) V^T R``, since the variance is
  ``k(z, z) - k(z, U) R^T (I - B^{-1}) R k(U, z)``. Conditioning costs ``O(n m^2)``, a call ``O(N m (m + F))``
  whatever ``n``. Where the inducing inputs cover the data at the scale of the lengthscales this is the exact
  posterior; elsewhere its mean is smoother and its variance mostly larger than the exact ones.

The inducing inputs are chosen by greedy variance reduction (a pivoted Cholesky of ``k(Z, Z)``; Burt, Rasmussen and
van der Wilk, 2020, JMLR "Convergence of sparse variational inference in Gaussian process regression"): each next
one is the data point the chosen ones explain least, starting from the best observation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from gpytorch.kernels import Kernel
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

# Added to k(U, U) before its Cholesky (unit prior variance): keeps nearly duplicate inducing inputs solvable.
INDUCING_JITTER = 1e-6
# Greedy selection stops when every data point's variance given the chosen ones is below this (unit prior variance).
SELECTION_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PosteriorFactors:
    """What posterior calls and sample paths need (float64, standardized units; see the module docstring).

    Attributes:
        unit_inducing: ``U [m, F]``, the inputs the posterior is expressed on (all data when exact).
        weights: ``w [m]``.
        explaining: ``E [m, m]``.
        reducing: ``R [m, m]`` (sparse; ``[0, m]`` when exact, whose sample paths are BoTorch's).
        restoring: ``S = diag(1/sqrt(b)) V^T R [m, m]``, with ``S^T S`` the inducing values' posterior precision
            (sparse; ``[0, m]`` when exact).
    """

    unit_inducing: Tensor
    weights: Tensor
    explaining: Tensor
    reducing: Tensor
    restoring: Tensor


def exact_factors(kernel: Kernel, noise: Tensor, unit_X: Tensor, residual: Tensor) -> PosteriorFactors:
    """The exact posterior on ``unit_X [n, F]`` with residuals ``residual [n]`` and noise variance ``noise []``."""
    eye = torch.eye(unit_X.shape[0], dtype=unit_X.dtype, device=unit_X.device)
    cholesky = psd_safe_cholesky(kernel(unit_X).to_dense() + noise * eye)
    weights = torch.cholesky_solve(residual.unsqueeze(-1), cholesky).squeeze(-1)
    explaining = torch.linalg.solve_triangular(cholesky, eye, upper=False)
    empty = unit_X.new_zeros(0, unit_X.shape[0])
    return PosteriorFactors(unit_X, weights, explaining, empty, empty)


def sparse_factors(kernel: Kernel, noise: Tensor, unit_X: Tensor, residual: Tensor,
                   unit_inducing: Tensor) -> PosteriorFactors:
    """SGPR on ``unit_X [n, F]``, ``residual [n]`` through ``unit_inducing [m, F]``; ``O(n m^2)``."""
    eye = torch.eye(unit_inducing.shape[0], dtype=unit_X.dtype, device=unit_X.device)
    cholesky = psd_safe_cholesky(kernel(unit_inducing).to_dense() + INDUCING_JITTER * eye)
    reducing = torch.linalg.solve_triangular(cholesky, eye, upper=False)  # R [m, m]
    scaled = reducing @ kernel(unit_inducing, unit_X).to_dense() / noise.sqrt()  # A [m, n]
    eigenvalues, eigenvectors = torch.linalg.eigh(torch.addmm(eye, scaled, scaled.T))
    eigenvalues = eigenvalues.clamp_min(1.0)  # B >= I; rounding may dip below
    rotated = eigenvectors.T @ reducing  # V^T R
    weights = rotated.T @ ((eigenvectors.T @ (scaled @ residual)) / eigenvalues) / noise.sqrt()
    explaining = (1 - 1 / eigenvalues).sqrt().unsqueeze(-1) * rotated
    restoring = eigenvalues.rsqrt().unsqueeze(-1) * rotated
    return PosteriorFactors(unit_inducing, weights, explaining, reducing, restoring)


def greedy_inducing_indices(kernel: Kernel, unit_X: Tensor, num_inducing: int, first: int) -> Tensor:
    """Indices ``[m]`` (``m <= num_inducing``) of rows of ``unit_X [n, F]``, by greedy variance reduction.

    Starts from row ``first`` and stops early once every row is explained (``SELECTION_TOLERANCE``). Costs
    ``O(n^2 F + n m^2)`` time and ``O(n^2)`` memory, so ``n`` should be a few times ``num_inducing`` at most.
    """
    with torch.no_grad():
        covariance = kernel(unit_X).to_dense()  # [n, n]
        limit = min(num_inducing, unit_X.shape[0])
        factors = unit_X.new_zeros(limit, unit_X.shape[0])  # rows of the partial Cholesky factor of covariance
        remaining = covariance.diagonal().clone()  # [n] variance left given the chosen rows
        chosen = [first]
        for step in range(limit - 1):
            pivot = chosen[-1]
            factors[step] = (covariance[pivot] - factors[:step, pivot] @ factors[:step]) / remaining[pivot].sqrt()
            remaining -= factors[step].square()
            remaining[pivot] = -float("inf")
            following = int(torch.argmax(remaining))
            if remaining[following] < SELECTION_TOLERANCE:
                break
            chosen.append(following)
    return torch.tensor(chosen, device=unit_X.device)


def posterior_moments(kernel: Kernel, unit_inducing: Tensor, weights: Tensor, explaining: Tensor,
                      unit_X: Tensor) -> tuple[Tensor, Tensor]:
    """``mean - c`` and variance ``[N]`` at ``unit_X [N, F]`` (standardized units, differentiable in ``unit_X``),
    from a :class:`PosteriorFactors`' ``unit_inducing [m, F]``, ``weights [m]`` and ``explaining [m, m]``."""
    cross = kernel(unit_X, unit_inducing).to_dense()  # [N, m]
    return cross @ weights, kernel(unit_X, diag=True) - (cross @ explaining.T).square().sum(-1)


def sparse_path_weights(weights: Tensor, reducing: Tensor, restoring: Tensor, prior_at_inducing: Tensor,
                        normal: Tensor) -> Tensor:
    """``v [m]`` of a sparse pathwise (Matheron) posterior sample ``f(z) = f0(z) + k(z, U) v``.

    ``f0`` is a prior sample path, ``prior_at_inducing [m]`` its values at ``U`` (minus ``c``), and ``normal [m]`` a
    standard normal draw. The inducing values ``u ~ q(u) = N(Kuu w, Kuu S^T S Kuu)`` are drawn as
    ``Kuu (w + S^T normal)``, and ``v = Kuu^{-1} (u - f0(U))`` with ``Kuu^{-1} = R^T R`` (Wilson et al., 2020, ICML
    "Efficiently sampling functions from Gaussian process posteriors"), so ``f`` has the sparse posterior's mean and
    covariance.
    """
    return weights + restoring.T @ normal - reducing.T @ (reducing @ prior_at_inducing)
