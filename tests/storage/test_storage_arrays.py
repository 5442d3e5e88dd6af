"""Array and float encoding: bit-exact, pickle-free."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from oboptim.storage import InvalidArrayError, decode_array, encode_array
from oboptim.storage._arrays import bits_to_float, float_to_bits, same_float

DTYPES = st.sampled_from(["<f4", "<f8", ">f8", "<f2", "<i4", "<i8", "|u1", "|b1", "<c16"])


@settings(max_examples=60, deadline=None)
@given(arrays(dtype=DTYPES, shape=array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_arrays_round_trip_bit_for_bit(x):
    data, shape, dtype = encode_array(x)
    decoded = decode_array(data, shape, dtype)
    assert decoded.dtype == x.dtype and decoded.shape == x.shape
    assert decoded.tobytes() == x.tobytes()


def test_nan_payload_survives():
    x = np.array([0x7FC0BEEF], dtype=np.uint32).view(np.float32)
    decoded = decode_array(*encode_array(x))
    assert decoded.view(np.uint32)[0] == 0x7FC0BEEF


def test_decoded_arrays_are_writable_copies():
    data, shape, dtype = encode_array(np.arange(3.0))
    decoded = decode_array(data, shape, dtype)
    decoded[0] = 9.0
    assert decode_array(data, shape, dtype)[0] == 0.0


@pytest.mark.parametrize("bad", [np.array([object()]), np.array(["text"]), np.array([b"bytes"])])
def test_non_numeric_arrays_are_refused(bad):
    with pytest.raises(InvalidArrayError, match="numeric"):
        encode_array(bad)


def test_corrupt_bytes_are_detected():
    data, shape, dtype = encode_array(np.zeros((2, 3)))
    with pytest.raises(InvalidArrayError, match="corrupt"):
        decode_array(data[:-1], shape, dtype)
    with pytest.raises(InvalidArrayError, match="corrupt"):
        decode_array(data, shape, "|O")


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False))
def test_float_bits_round_trip(value):
    assert same_float(bits_to_float(float_to_bits(value)), value)
    assert -(2**63) <= float_to_bits(value) < 2**63


def test_signed_zeros_differ():
    assert not same_float(0.0, -0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "uint8", "int16", "int32", "int64", "uint64", "bool",
                                   "complex64", ">f4"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 4)])
def test_decode_to_list_equals_numpy_tolist(dtype, shape):
    from oboptim.storage._arrays import decode_to_list

    array = (np.arange(int(np.prod(shape)) or 1).reshape(shape) * 1.5 - 2).astype(dtype)
    assert decode_to_list(*encode_array(array)) == array.tolist()


def test_decode_to_list_refuses_bytes_that_do_not_fit_the_shape():
    from oboptim.storage._arrays import decode_to_list

    data, _, dtype = encode_array(np.zeros(4, np.float32))
    with pytest.raises(InvalidArrayError, match="corrupt"):
        decode_to_list(data, [5], dtype)
