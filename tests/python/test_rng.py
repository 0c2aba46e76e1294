"""models/rng.py reproduces hw/physics/rng.h: golden values computed by the C++, and the vectorised draws."""

import numpy as np
import pytest

from models import rng


def test_golden_values_from_the_cpp():
    """Printed by a C++ program including hw/physics/rng.h (the every-key-through-splitmix64 version)."""
    assert int(rng.splitmix64(0)) == 16294208416658607535
    assert int(rng.splitmix64(12345)) == 2454886589211414944
    assert int(rng.image_key(1, 42)) == 1099511627818 == int(rng.image_key("ood", 42))
    assert int(rng.hash_key(1, rng.image_key(1, 42), 3, 7)) == 10185171245113546304
    assert float(rng.uniform01(rng.hash_key(1, rng.image_key(0, 0), 0, 0))) == 0.3592951930213456
    assert float(rng.uniform01(rng.hash_key(5, rng.image_key(1, 9999), 19, 300))) == 0.56090694789881224
    assert int(rng.hash_key(2 ** 64 - 1, 2 ** 63, 2 ** 40 + 5, 2 ** 64 - 1)) == 16072799916020431730
    assert int(rng.dropout_draws(3, [rng.image_key(0, 17)], [2], 1000, 0.2).sum()) == 215


def test_wrapping_uint64_arithmetic():
    top = np.uint64(2 ** 64 - 1)
    assert rng.splitmix64(np.array([top, 0], dtype=np.uint64)).dtype == np.uint64
    assert int(rng.hash_key(2 ** 64 - 1, 2 ** 63, 2 ** 40 + 5, 2 ** 64 - 1)) < 2 ** 64
    u = rng.uniform01(np.array([0, 2 ** 64 - 1], dtype=np.uint64))
    assert u[0] == 0.0 and u[1] == 1.0 - 2.0 ** -53


def test_dropout_draws_equal_the_scalar_definition():
    keys = rng.image_key(np.array([0, 1, 0]), np.array([0, 9999, 123456]))
    samples = np.array([0, 19, 3])
    p = 0.56090694789881224
    draws = rng.dropout_draws(5, keys, samples, 400, p)
    assert draws.shape == (3, 400) and draws.dtype == bool
    for r in range(3):
        for d in (0, 1, 57, 300, 399):
            assert draws[r, d] == (rng.uniform01(rng.hash_key(5, keys[r], samples[r], d)) < p)
    # the golden draw equals p exactly: strictly-less comparison, as in the C++
    assert not draws[1, 300] and rng.dropout_draws(5, keys[1:2], samples[1:2], 301, np.nextafter(p, 1))[0, 300]


def test_draw_rate():
    draws = rng.dropout_draws(1, rng.image_key(0, np.arange(50)), np.zeros(50), 4000, 0.2)
    sigma = np.sqrt(0.2 * 0.8 / draws.size)
    assert abs(draws.mean() - 0.2) < 4 * sigma
    assert rng.dropout_draws(1, [7], [0], 0, 0.2).shape == (1, 0)


@pytest.mark.parametrize("split, index", [(0, 0), (1, 2 ** 40 - 1)])
def test_image_key_layout(split, index):
    assert int(rng.image_key(split, index)) == (split << 40) | index
