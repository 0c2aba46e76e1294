"""The numpy port of hw/physics/rng.h against values printed by the C++ (a second implementation),
and the independence of the draws within one sample."""

import numpy as np

import rng


def test_golden_values_from_the_cpp_implementation():
    assert int(rng.splitmix64(0)) == 16294208416658607535
    assert int(rng.splitmix64(12345)) == 2454886589211414944
    assert int(rng.image_key(1, 42)) == 1099511627818
    assert int(rng.hash_key(1, rng.image_key(1, 42), 3, 7)) == 10185171245113546304
    assert float(rng.uniform01(rng.hash_key(1, rng.image_key(0, 0), 0, 0))) == 0.3592951930213456
    assert float(rng.uniform01(rng.hash_key(5, rng.image_key(1, 9999), 19, 300))) == 0.56090694789881224


def test_vectorised_draws_equal_the_scalar_definition_and_are_independent():
    keys = rng.image_key(0, np.arange(300))
    d = rng.dropout_draws(7, keys, np.zeros(300, dtype=np.uint64), 16, 0.5)
    for r in (0, 17, 299):
        for k in (0, 5, 15):
            assert d[r, k] == (rng.uniform01(rng.hash_key(7, keys[r], 0, k)) < 0.5)
    masks = {tuple(row) for row in d}
    assert len(masks) > 290  # 300 samples of 16 fair draws: collisions are rare
