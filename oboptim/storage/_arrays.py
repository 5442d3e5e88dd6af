"""Exact, pickle-free encoding of numpy arrays and floats for the database.

An array is stored as three columns: its raw C-order bytes, its shape (a JSON list) and its dtype string
(`numpy.dtype.str`, e.g. "<f4", which names the byte order). Decoding gives back the same bits, NaN payloads and
signed zeros included. Only numeric dtypes (bool, int, uint, float, complex) are accepted: object arrays would need
pickle, which must never be loaded from a database.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from oboptim.storage._errors import InvalidArrayError

_NUMERIC_KINDS = "biufc"


def encode_array(x: np.ndarray) -> tuple[bytes, list[int], str]:
    """Encode an array `[*shape]` as (C-order bytes, shape, dtype string)."""
    array = np.asarray(x)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidArrayError(
            f"cannot store an array of dtype {array.dtype}: convert candidates to a numeric dtype (e.g. float32)"
        )
    return array.tobytes(order="C"), [int(n) for n in array.shape], array.dtype.str


def decode_array(data: bytes, shape: list[int] | tuple[int, ...], dtype: str) -> np.ndarray:
    """Decode bytes written by `encode_array` into a fresh, writable array `[*shape]`."""
    np_dtype = np.dtype(dtype)
    if np_dtype.kind not in _NUMERIC_KINDS:
        raise InvalidArrayError(f"stored array has non-numeric dtype {dtype!r}: the database is corrupt")
    shape = tuple(int(n) for n in shape)
    expected = math.prod(shape) * np_dtype.itemsize
    if len(data) != expected:
        raise InvalidArrayError(
            f"stored array has {len(data)} bytes but shape {shape} of {dtype} needs {expected}: the database is corrupt"
        )
    return np.frombuffer(data, dtype=np_dtype).reshape(shape).copy()


def float_to_bits(value: float) -> int:
    """The IEEE-754 bits of a float64 as a signed 64-bit integer (fits a BIGINT column)."""
    return struct.unpack("<q", struct.pack("<d", value))[0]


def bits_to_float(bits: int) -> float:
    """Inverse of `float_to_bits`."""
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def same_float(a: float, b: float) -> bool:
    """True when two floats have identical bits (so 0.0 and -0.0 differ)."""
    return float_to_bits(a) == float_to_bits(b)
