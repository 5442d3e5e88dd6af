"""Sequences as a task's design space: what candidates are, how they are shown, and how features see them.

A task with ``Task.sequence = SequenceSpace(alphabet, length)`` has candidates ``[B, L]`` int64 in
``[0, V)`` (``V = len(alphabet)``): the oracle receives them, storage keeps them, and ``export``, ``status``, ``ask``
and the rating page show them as strings over the alphabet. Its prior samples relaxed particles ``[B, L, V]``
(:class:`oboptim.sequences.OneHotRelaxation`) whose decoder is the soft decode, per-position probabilities
``[B, L, V]``: that is what rewards and features see inside the sampler (differentiable). A final particle becomes a
candidate by its most likely state per position (:meth:`SequenceSpace.to_tokens`), and a stored candidate is seen by
the features as its one-hot (:meth:`SequenceSpace.to_domain`), the limit of the soft decode.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

# One printable character per state, so that a sequence reads as a word and parses back unambiguously.
SYMBOLS = string.ascii_uppercase + string.ascii_lowercase + string.digits


def default_alphabet(num_states: int) -> str:
    """The first ``num_states`` of ``A-Z a-z 0-9`` (at most 62 states)."""
    if not 2 <= num_states <= len(SYMBOLS):
        raise ValueError(f"num_states must lie in [2, {len(SYMBOLS)}] for the default alphabet, got {num_states}")
    return SYMBOLS[:num_states]


@dataclass(frozen=True)
class SequenceSpace:
    """Sequences of ``length`` states, state ``k`` written as ``alphabet[k]``.

    Example:
        >>> space = SequenceSpace("ACGT", 4)
        >>> space.format(space.parse("GATT"))
        'GATT'
    """

    alphabet: str
    length: int

    def __post_init__(self) -> None:
        if len(self.alphabet) < 2 or len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError(f"an alphabet needs at least 2 distinct characters, got {self.alphabet!r}")
        if any(not c.isprintable() or c.isspace() for c in self.alphabet):
            raise ValueError(f"an alphabet's characters must be printable and not spaces, got {self.alphabet!r}")
        if self.length < 1:
            raise ValueError(f"length must be at least 1, got {self.length}")

    @property
    def num_states(self) -> int:
        """V, the number of states."""
        return len(self.alphabet)

    @cached_property
    def relaxation(self):
        """The :class:`oboptim.sequences.OneHotRelaxation` of these sequences (imports torch on first use)."""
        from oboptim.sequences._relaxation import OneHotRelaxation

        return OneHotRelaxation(self.num_states, self.length)

    def to_tokens(self, decoded):
        """Decoded particles ``[B, L, V]`` (probabilities) -> candidates ``[B, L]`` int64 (most likely states)."""
        return self.relaxation.hard_decode(decoded)

    def to_domain(self, tokens):
        """Candidates ``[B, L]`` (integers, numpy or torch; whole floats too, as stored arrays may be) -> one-hot
        ``[B, L, V]`` float32 torch tensor."""
        import torch

        tokens = torch.as_tensor(np.asarray(tokens) if not isinstance(tokens, torch.Tensor) else tokens)
        if tokens.ndim != 2:
            raise ValueError(f"expected sequences [B, {self.length}], got shape {tuple(tokens.shape)}")
        if tokens.is_floating_point():
            if not bool((tokens == tokens.round()).all()):
                raise ValueError("sequence candidates must be whole numbers (state indices)")
            tokens = tokens.long()
        return self.relaxation.one_hot(tokens)

    def format(self, tokens) -> str:
        """One candidate ``[L]`` (integers) as a string over the alphabet."""
        return "".join(self.alphabet[int(k)] for k in np.asarray(tokens).reshape(-1))

    def parse(self, text: str) -> np.ndarray:
        """A string over the alphabet -> ``[L]`` int64; a bad string raises a one-line ValueError."""
        if len(text) != self.length:
            raise ValueError(f"expected a sequence of length {self.length}, got {len(text)} characters")
        unknown = sorted(set(text) - set(self.alphabet))
        if unknown:
            raise ValueError(f"characters {''.join(unknown)!r} are not in the alphabet {self.alphabet!r}")
        return np.array([self.alphabet.index(c) for c in text], dtype=np.int64)

    def to_json(self) -> dict[str, Any]:
        """What a campaign stores so that reading commands show sequences without loading the task."""
        return {"kind": "sequence", "alphabet": self.alphabet, "length": self.length}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SequenceSpace | None:
        """The space stored by :meth:`to_json` (None for anything else, e.g. a continuous task's campaign)."""
        if not isinstance(data, Mapping) or data.get("kind") != "sequence":
            return None
        return cls(str(data["alphabet"]), int(data["length"]))


__all__ = ["SYMBOLS", "SequenceSpace", "default_alphabet"]
