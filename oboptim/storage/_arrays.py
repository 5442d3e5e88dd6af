"""Exact, pickle-free encoding of numpy arrays and floats for the database.

An array is stored as three columns: its raw C-order bytes, its shape (a JSON list) and its dtype string
(`numpy.dtype.str`, e.g. "<f4", which names the byte order). Decoding gives back the same bits, NaN payloads and
signed zeros included. Only numeric dtypes (bool, int, uint, float, complex) are accepted: object arrays would need
pickle, which must never be loaded from a database.
"""

from __future__ import annotations

import array
import math
import struct
import sys
from typing import TYPE_CHECKING

from oboptim.storage._errors import InvalidArrayError

if TYPE_CHECKING:
    import numpy as np

_NUMERIC_KINDS = "biufc"


def encode_array(x: np.ndarray) -> tuple[bytes, list[int], str]:
    """Encode an array `[*shape]` as (C-order bytes, shape, dtype string)."""
    import numpy as np  # here, not at import: reading commands that decode no array never load numpy

    array = np.asarray(x)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise InvalidArrayError(
            f"cannot store an array of dtype {array.dtype}: convert candidates to a numeric dtype (e.g. float32)"
        )
    return array.tobytes(order="C"), [int(n) for n in array.shape], array.dtype.str


def decode_array(data: bytes, shape: list[int] | tuple[int, ...], dtype: str) -> np.ndarray:
    """Decode bytes written by `encode_array` into a fresh, writable array `[*shape]`."""
    import numpy as np

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


# dtype strings whose bytes Python's `array` module reads as they are (little-endian machine, native sizes checked)
_ARRAY_CODES = {"<f4": "f", "<f8": "d", "|i1": "b", "|u1": "B", "<i2": "h", "<u2": "H", "<i4": "i", "<u4": "I",
                "<i8": "q", "<u8": "Q", "|b1": "B"}


def decode_to_list(data: bytes, shape: list[int] | tuple[int, ...], dtype: str) -> object:
    """Stored bytes as nested Python lists ``[*shape]`` (numbers), the same as ``decode_array(...).tolist()``.

    Common dtypes are read with the standard library (a command that only prints candidates needs no numpy); any
    other falls back to numpy.
    """
    code = _ARRAY_CODES.get(dtype)
    if code is None or sys.byteorder != "little" or array.array(code).itemsize != int(dtype[2:]):
        return decode_array(data, shape, dtype).tolist()
    shape = tuple(int(n) for n in shape)
    if len(data) != math.prod(shape) * int(dtype[2:]):
        decode_array(data, shape, dtype)  # raises the corruption error
    flat = array.array(code, data).tolist()
    if dtype == "|b1":
        flat = [bool(v) for v in flat]
    return _nest(flat, shape)


def _nest(flat: list, shape: tuple[int, ...]) -> object:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def float_to_bits(value: float) -> int:
    """The IEEE-754 bits of a float64 as a signed 64-bit integer (fits a BIGINT column)."""
    return struct.unpack("<q", struct.pack("<d", value))[0]


def bits_to_float(bits: int) -> float:
    """Inverse of `float_to_bits`."""
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def same_float(a: float, b: float) -> bool:
    """True when two floats have identical bits (so 0.0 and -0.0 differ)."""
    return float_to_bits(a) == float_to_bits(b)
