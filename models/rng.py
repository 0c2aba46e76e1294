"""numpy port of hw/physics/rng.h: the simulator's counter-based dropout draws, bit for bit.

A draw is a pure function of (seed, image key, sample t, draw index d):
drop = uniform01(hash_key(seed, image_key, t, d)) < p, with image_key(split, index) = split << 40 | index
(split 0 = in-distribution, 1 = OOD) and d = the layer's draw offset + its local index (see bnn.py).
All arithmetic is uint64 and wraps modulo 2^64 as in C++.
"""

from typing import Any

import numpy as np

U64 = np.uint64
GOLDEN = U64(0x9E3779B97F4A7C15)
SEED_SALT = U64(0x6A09E667F3BCC909)
SPLITS = {"id": 0, "ood": 1}


def _u64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=U64)


def splitmix64(x: Any) -> np.ndarray:
    """splitmix64 finaliser of uint64 array x (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = _u64(x) + GOLDEN
        x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
        return x ^ (x >> U64(31))


def _row_part(seed: Any, a: Any, b: Any) -> np.ndarray:
    """The (seed, a, b) prefix of hash_key: splitmix64(splitmix64(splitmix64(seed ^ S) + a) + b)."""
    with np.errstate(over="ignore"):
        return splitmix64(splitmix64(splitmix64(_u64(seed) ^ SEED_SALT) + _u64(a)) + _u64(b))


def hash_key(seed: Any, a: Any, b: Any, c: Any) -> np.ndarray:
    """hash_key(seed, a, b, c) of rng.h (broadcasting over arrays): one more round with c."""
    with np.errstate(over="ignore"):
        return splitmix64(_row_part(seed, a, b) + _u64(c))


def uniform01(h: Any) -> np.ndarray:
    """Uniform double in [0, 1) from the top 53 bits (exact, as in C++)."""
    return (_u64(h) >> U64(11)).astype(np.float64) * (2.0 ** -53)


def image_key(split: Any, index: Any) -> np.ndarray:
    """Key of an image: split << 40 | index; split is 0/1 or 'id'/'ood'."""
    split = SPLITS.get(split, split) if isinstance(split, str) else split
    return (_u64(split) << U64(40)) | _u64(index)


def dropout_draws(seed: int, image_keys: Any, samples: Any, num_draws: int, p: float) -> np.ndarray:
    """Bool [R, num_draws]: draw d of row r is uniform01(hash_key(seed, image_keys[r], samples[r], d)) < p."""
    rows = _row_part(seed, np.atleast_1d(_u64(image_keys)), np.atleast_1d(_u64(samples)))
    with np.errstate(over="ignore"):
        h = splitmix64(rows[:, None] + np.arange(num_draws, dtype=U64)[None, :])
    return uniform01(h) < p
