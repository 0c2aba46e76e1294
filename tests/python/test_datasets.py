"""models/datasets.py: idx parsing, validation messages and the real data cache."""

import numpy as np
import pytest

from models import datasets


def write_idx(path, magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(header + bytes(payload))
    return str(path)


def test_reads_small_valid_files(tmp_path):
    pix = np.arange(2 * 28 * 28) % 256
    imgs = datasets.read_idx_images(write_idx(tmp_path / "i", 0x803, [2, 28, 28], pix.astype(np.uint8)))
    assert imgs.shape == (2, 28, 28) and imgs.dtype == np.uint8 and imgs[1, 0, 0] == (28 * 28) % 256
    labels = datasets.read_idx_labels(write_idx(tmp_path / "l", 0x801, [3], [7, 0, 9]))
    assert labels.tolist() == [7, 0, 9]


@pytest.mark.parametrize("magic, dims, size, message", [
    (0x801, [1, 28, 28], 784, "bad idx magic number 0x00000801, expected 0x00000803"),
    (0x803, [1, 32, 32], 1024, "images are 32x32, expected 28x28"),
    (0x803, [2, 28, 28], 784, "784 data bytes, header implies 1568"),
])
def test_bad_image_files_name_the_file(tmp_path, magic, dims, size, message):
    path = write_idx(tmp_path / "broken-images", magic, dims, [0] * size)
    with pytest.raises(datasets.DatasetError) as err:
        datasets.read_idx_images(path)
    assert str(err.value).startswith(path) and message in str(err.value)


def test_bad_label_files(tmp_path):
    with pytest.raises(datasets.DatasetError, match="label 12 out of range"):
        datasets.read_idx_labels(write_idx(tmp_path / "l", 0x801, [2], [1, 12]))
    with pytest.raises(datasets.DatasetError, match="header says 2 labels, expected 5"):
        datasets.read_idx_labels(write_idx(tmp_path / "l2", 0x801, [2], [1, 2]), expected_count=5)
    with pytest.raises(datasets.DatasetError, match="too short"):
        datasets.read_idx_labels(write_idx(tmp_path / "l3", 0x801, [], []))
    with pytest.raises(datasets.DatasetError, match="file not found"):
        datasets.read_idx_labels(str(tmp_path / "missing"))


def test_real_test_sets(data_dir):
    for name in ("mnist", "fashion"):
        images, labels, paths = datasets.load(data_dir, name, "test")
        assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
        assert set(np.unique(labels).tolist()) == set(range(10))
        assert paths[0].endswith("t10k-images-idx3-ubyte")
    x = datasets.to_float(images[:2])
    assert x.shape == (2, 784) and x.dtype == np.float32 and x.max() <= 1.0


def test_names():
    assert datasets.canonical_name("Fashion-MNIST") == "fashion"
    assert datasets.other_dataset("mnist") == "fashion" and datasets.other_dataset("fashion") == "mnist"
    with pytest.raises(datasets.DatasetError, match="unknown dataset 'cifar'"):
        datasets.canonical_name("cifar")
