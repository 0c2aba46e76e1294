"""models/parity.py on synthetic samples.csv files written from the torch model itself."""

import csv

import numpy as np
import pytest
import torch

from models import datasets
from models import parity
from models.bnn import BinaryMLP, mc_forward
from models.onnx_export import export_onnx

HEADER = ["split", "index", "sample", "bits"] + [f"logit{c}" for c in range(10)]


def make_model(method="scale", dropped_value=1.0):
    torch.manual_seed(11)
    model = BinaryMLP(hidden=(32, 32), method=method, dropped_value=dropped_value)
    with torch.no_grad():
        for layer in model.layers():
            if method != "none":
                layer.alpha.uniform_(0.3, 2.0)
            layer.bn.running_mean.uniform_(-3, 3)
            layer.bn.running_var.uniform_(1, 20)
            layer.bn.weight.uniform_(0.5, 2)
            layer.bn.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def test_images(data_dir):
    return {"id": parity.load_test_images(data_dir, "mnist"), "ood": parity.load_test_images(data_dir, "fashion")}


def synth_rows(model, images, T=3, seed=0, n_each=6):
    """Rows (split, index, sample, bits string, logits) as the simulator would write them."""
    gen = torch.Generator().manual_seed(seed)
    L = len(model.dropout_layers)
    rows = []
    for split, offset in (("id", 17), ("ood", 4321)):
        idx = np.arange(offset, offset + n_each)
        x = torch.from_numpy(datasets.to_float(images[split][idx]))
        for t in range(T):
            bits = model.sample_bits(len(idx), gen)
            logits = mc_forward(model, x, bits).numpy()
            for i, k in enumerate(idx):
                b = "".join(str(int(v)) for v in bits[i]) if L else "-"
                rows.append([split, int(k), t, b, *[float(v) for v in logits[i]]])
    return rows


def write_csv(path, rows, fmt="{:.9g}"):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for r in rows:
            w.writerow(r[:4] + [fmt.format(v) if isinstance(v, float) else v for v in r[4:]])
    return str(path)


def test_exact_samples_pass(tmp_path, test_images):
    model = make_model()
    path = write_csv(tmp_path / "samples.csv", synth_rows(model, test_images))
    result = parity.compare(model, path, test_images, atol=1e-3)
    assert result.passed, result.summary()
    assert result.rows == 36 and result.argmax_mismatches == 0 and result.max_abs_diff < 1e-5


def test_corrupted_logit_fails(tmp_path, test_images):
    model = make_model()
    rows = synth_rows(model, test_images)
    rows[5][4 + 3] += 0.01
    result = parity.compare(model, write_csv(tmp_path / "s.csv", rows), test_images, atol=1e-3)
    assert not result.passed
    assert result.max_abs_diff == pytest.approx(0.01, abs=1e-5)
    assert result.worst[0] == 7  # header is line 1, row 5 is line 7
    assert "exceeds atol" in result.summary()


def test_swapped_argmax_fails_even_within_tolerance(tmp_path, test_images):
    model = make_model()
    rows = synth_rows(model, test_images)
    logits = rows[0][4:]
    top = int(np.argmax(logits))
    rows[0][4 + top] = float(np.partition(logits, -2)[-2]) - 1e-4  # now below the runner-up
    result = parity.compare(model, write_csv(tmp_path / "s.csv", rows), test_images, atol=10.0)
    assert result.argmax_mismatches == 1 and not result.passed
    assert "disagree on the predicted class" in result.summary()


def test_wrong_bits_are_detected(tmp_path, test_images):
    model = make_model(dropped_value=0.0)
    rows = synth_rows(model, test_images)
    rows[2][3] = "".join("1" if c == "0" else "0" for c in rows[2][3])
    result = parity.compare(model, write_csv(tmp_path / "s.csv", rows), test_images, atol=1e-3)
    assert not result.passed and result.worst[0] == 4


def test_method_none_accepts_dash_and_empty_bits(tmp_path, test_images):
    model = make_model(method="none")
    rows = synth_rows(model, test_images)
    for r in rows[::2]:
        r[3] = ""
    assert parity.compare(model, write_csv(tmp_path / "s.csv", rows), test_images).passed


def test_nan_logit_fails(tmp_path, test_images):
    model = make_model()
    rows = synth_rows(model, test_images)
    rows[1][4] = float("nan")
    result = parity.compare(model, write_csv(tmp_path / "s.csv", rows), test_images)
    assert result.nonfinite_rows == 1 and not result.passed


@pytest.mark.parametrize("mutate, message", [
    (lambda rows: rows[0].__setitem__(3, "01"), "bits '01' must be 3 chars"),
    (lambda rows: rows[0].__setitem__(0, "val"), "split 'val'"),
    (lambda rows: rows[0].__setitem__(1, 10000), "index 10000 outside"),
    (lambda rows: rows[0].pop(), "13 fields, expected 14"),
])
def test_malformed_rows_name_the_line(tmp_path, test_images, mutate, message):
    model = make_model()
    rows = synth_rows(model, test_images)
    mutate(rows)
    path = write_csv(tmp_path / "s.csv", rows)
    with pytest.raises(parity.ParityInputError, match=message) as err:
        parity.compare(model, path, test_images)
    assert "s.csv:2" in str(err.value)


def test_cli_exit_codes(tmp_path, test_images, data_dir, capsys):
    model = make_model()
    onnx_path = str(tmp_path / "m.onnx")
    export_onnx(model, onnx_path, dataset="mnist")
    rows = synth_rows(model, test_images)
    good = write_csv(tmp_path / "good.csv", rows)
    assert parity.main(["--model", onnx_path, "--samples", good, "--data-dir", data_dir]) == 0
    assert "PASS" in capsys.readouterr().out
    rows[3][6] += 0.5
    bad = write_csv(tmp_path / "bad.csv", rows)
    assert parity.main(["--model", onnx_path, "--samples", bad, "--data-dir", data_dir]) == 1
    assert "FAIL" in capsys.readouterr().out
    (tmp_path / "hdr.csv").write_text("split,index,sample,logit0\n")
    assert parity.main(["--model", onnx_path, "--samples", str(tmp_path / "hdr.csv"), "--data-dir", data_dir]) == 2
    assert "hdr.csv:1: header" in capsys.readouterr().err
