"""The numpy port of hw/physics/rng.h: the draws within one sample are independent (the golden
values from the C++ are in test_rng.py)."""

import numpy as np

from models import rng


def test_vectorised_draws_equal_the_scalar_definition_and_are_independent():
    keys = rng.image_key(0, np.arange(300))
    d = rng.dropout_draws(7, keys, np.zeros(300, dtype=np.uint64), 16, 0.5)
    for r in (0, 17, 299):
        for k in (0, 5, 15):
            assert d[r, k] == (rng.uniform01(rng.hash_key(7, keys[r], 0, k)) < 0.5)
    masks = {tuple(row) for row in d}
    assert len(masks) > 290  # 300 samples of 16 fair draws: collisions are rare
