"""Reader for the raw idx files in the data cache (MNIST, Fashion-MNIST)."""

import hashlib
import os
from typing import List, Optional, Tuple

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA_DIR = os.path.join(REPO_ROOT, "data")

# Canonical dataset name -> sub-directory of the data cache.
DATASET_DIRS = {"mnist": "mnist", "fashion": "fashion-mnist"}
ALIASES = {"mnist": "mnist", "fashion": "fashion", "fashion-mnist": "fashion", "fashion_mnist": "fashion"}
SPLIT_PREFIX = {"train": "train", "test": "t10k", "t10k": "t10k"}
SPLIT_SIZE = {"train": 60000, "t10k": 10000}

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


class DatasetError(Exception):
    """A data file is missing or malformed; the message names the file."""


def canonical_name(name: str) -> str:
    """Map a user-given dataset name (mnist, fashion, fashion-mnist) to its canonical form."""
    key = name.strip().lower()
    if key not in ALIASES:
        raise DatasetError(f"unknown dataset '{name}' (allowed: mnist, fashion)")
    return ALIASES[key]


def other_dataset(name: str) -> str:
    """The natural OOD partner of a dataset (mnist <-> fashion)."""
    return "fashion" if canonical_name(name) == "mnist" else "mnist"


def data_files(data_dir: str, name: str, split: str) -> Tuple[str, str]:
    """Paths (images, labels) of one split ('train' or 'test') of a dataset."""
    sub = DATASET_DIRS[canonical_name(name)]
    if split not in SPLIT_PREFIX:
        raise DatasetError(f"unknown split '{split}' (allowed: train, test)")
    prefix = SPLIT_PREFIX[split]
    base = os.path.join(data_dir, sub)
    return (os.path.join(base, f"{prefix}-images-idx3-ubyte"),
            os.path.join(base, f"{prefix}-labels-idx1-ubyte"))


def _read_header(path: str, raw: bytes, magic: int, ndim: int) -> List[int]:
    if len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: file too short for an idx header ({len(raw)} bytes)")
    got = int.from_bytes(raw[0:4], "big")
    if got != magic:
        raise DatasetError(f"{path}: bad idx magic number 0x{got:08x}, expected 0x{magic:08x}")
    return [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]


def read_idx_images(path: str, expected_count: Optional[int] = None) -> np.ndarray:
    """Read an idx3 ubyte image file into a uint8 array [N, 28, 28]."""
    raw = _read_file(path)
    n, rows, cols = _read_header(path, raw, IDX_IMAGES_MAGIC, 3)
    if (rows, cols) != (28, 28):
        raise DatasetError(f"{path}: images are {rows}x{cols}, expected 28x28")
    if expected_count is not None and n != expected_count:
        raise DatasetError(f"{path}: header says {n} images, expected {expected_count}")
    body = len(raw) - 16
    if body != n * rows * cols:
        raise DatasetError(f"{path}: {body} data bytes, header implies {n * rows * cols}")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def read_idx_labels(path: str, expected_count: Optional[int] = None, num_classes: int = 10) -> np.ndarray:
    """Read an idx1 ubyte label file into a uint8 array [N] (values checked < num_classes)."""
    raw = _read_file(path)
    (n,) = _read_header(path, raw, IDX_LABELS_MAGIC, 1)
    if expected_count is not None and n != expected_count:
        raise DatasetError(f"{path}: header says {n} labels, expected {expected_count}")
    if len(raw) - 8 != n:
        raise DatasetError(f"{path}: {len(raw) - 8} data bytes, header implies {n}")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if n and int(labels.max()) >= num_classes:
        raise DatasetError(f"{path}: label {int(labels.max())} out of range 0..{num_classes - 1}")
    return labels


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found (run scripts/setup.sh to fill the data cache)") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror}") from None


def load(data_dir: str, name: str, split: str) -> Tuple[np.ndarray, np.ndarray, Tuple[str, str]]:
    """Load one split: (images uint8 [N,28,28], labels uint8 [N], paths (images, labels))."""
    img_path, lbl_path = data_files(data_dir, name, split)
    expected = SPLIT_SIZE[SPLIT_PREFIX[split]]
    images = read_idx_images(img_path, expected)
    labels = read_idx_labels(lbl_path, expected)
    return images, labels, (img_path, lbl_path)


def to_float(images: np.ndarray) -> np.ndarray:
    """Network input: float32 [N, 784] with values pixel/255."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def sha256_file(path: str) -> str:
    """Hex sha256 of a file, for the model manifest."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
