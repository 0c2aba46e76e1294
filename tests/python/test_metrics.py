"""models/metrics.py against values worked out by hand."""

import math

import numpy as np
import pytest

from models import metrics

P_BAR = np.array([[0.90, 0.10],   # label 0: correct, conf 0.90 (bin 13)
                  [0.08, 0.92],   # label 0: wrong,   conf 0.92 (bin 13)
                  [0.30, 0.70],   # label 1: correct, conf 0.70 (bin 10)
                  [0.62, 0.38]])  # label 1: wrong,   conf 0.62 (bin 9)
LABELS = np.array([0, 0, 1, 1])


def test_accuracy_nll_brier():
    assert metrics.accuracy(P_BAR, LABELS) == 0.5
    nll = -(math.log(0.9) + math.log(0.08) + math.log(0.7) + math.log(0.38)) / 4
    assert metrics.nll(P_BAR, LABELS) == pytest.approx(nll, abs=1e-12)
    brier = (2 * 0.1 ** 2 + 2 * 0.92 ** 2 + 2 * 0.3 ** 2 + 2 * 0.62 ** 2) / 4
    assert metrics.brier(P_BAR, LABELS) == pytest.approx(brier, abs=1e-12)


def test_nll_floor_for_zero_probability():
    assert metrics.nll(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-math.log(1e-12))


def test_ece_by_hand():
    # bin 13: 2 preds, acc 0.5, conf 0.91; bin 10: acc 1, conf 0.7; bin 9: acc 0, conf 0.62
    expected = 0.5 * abs(0.5 - 0.91) + 0.25 * abs(1 - 0.7) + 0.25 * abs(0 - 0.62)
    assert metrics.ece(P_BAR, LABELS) == pytest.approx(expected, abs=1e-12)


def test_ece_bin_upper_edge_is_inclusive():
    # conf exactly 5/15 belongs to bin 4 = (4/15, 5/15], together with conf 5/15 - 0.01
    a = np.array([5 / 15, 5 / 15, 1 / 6, 1 / 6])          # argmax 0 (first on ties): correct
    b = np.array([5 / 15 - 0.01, 0.3, 0.2, 1 - (5 / 15 - 0.01) - 0.5])  # argmax 0, label 1: wrong
    p_bar = np.stack([a, b])
    same_bin = abs(0.5 - (a[0] + b[0]) / 2)
    assert metrics.ece(p_bar, np.array([0, 1])) == pytest.approx(same_bin, abs=1e-12)


def test_ece_perfectly_calibrated_and_confident():
    assert metrics.ece(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1])) == 0.0
    assert metrics.ece(np.array([[0.5, 0.5], [0.5, 0.5]]), np.array([0, 1])) == pytest.approx(0.0)


def test_entropy_and_mutual_information():
    C = 10
    uniform = np.full((3, 4, C), 1.0 / C)
    assert np.allclose(metrics.predictive_entropy(uniform), math.log(C))
    assert np.allclose(metrics.mutual_information(uniform), 0.0, atol=1e-12)
    same = np.tile(np.array([0.7, 0.2, 0.1]), (5, 2, 1))  # T=5 identical samples
    assert np.allclose(metrics.mutual_information(same), 0.0, atol=1e-12)
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])     # two confident samples that disagree
    assert metrics.predictive_entropy(disagree)[0] == pytest.approx(math.log(2))
    assert metrics.mutual_information(disagree)[0] == pytest.approx(math.log(2))
    assert metrics.entropy(np.array([1.0, 0.0, 0.0])) == 0.0


ID_SCORES = np.array([0.1, 0.4, 0.35, 0.8])
OOD_SCORES = np.array([0.4, 0.9, 0.2])


def test_auroc_counts_ties_as_half():
    # ood 0.4: beats 0.1, 0.35, ties 0.4 -> 2.5; ood 0.9: 4; ood 0.2: 1  => 7.5 / 12
    assert metrics.auroc(ID_SCORES, OOD_SCORES) == pytest.approx(7.5 / 12)
    assert metrics.auroc([0.0, 0.1], [0.5, 0.6]) == 1.0
    assert metrics.auroc([0.5, 0.6], [0.0, 0.1]) == 0.0
    assert metrics.auroc([0.3, 0.3], [0.3]) == 0.5


def test_aupr_average_precision():
    # descending: 0.9 ood (P=1, R=1/3), 0.8 id, 0.4 ood+id (P=1/2, R=2/3), 0.35 id, 0.2 ood (P=1/2, R=1)
    assert metrics.aupr(ID_SCORES, OOD_SCORES) == pytest.approx(1 / 3 + 1 / 6 + 1 / 6)
    assert metrics.aupr([0.0, 0.1], [0.5, 0.6]) == 1.0


def test_fpr_at_tpr():
    # TPR reaches 1 (>= 0.95) first at threshold 0.2, where 3 of 4 ID scores are >= 0.2
    assert metrics.fpr_at_tpr(ID_SCORES, OOD_SCORES) == 0.75
    # TPR 2/3 >= 0.5 at threshold 0.4: ID 0.4 and 0.8 are flagged
    assert metrics.fpr_at_tpr(ID_SCORES, OOD_SCORES, tpr=0.5) == 0.5
    assert metrics.fpr_at_tpr([0.0, 0.1], [0.5, 0.6]) == 0.0


def test_auroc_matches_pairwise_definition_on_random_data():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 20, 300).astype(float)   # many ties
    b = rng.integers(5, 25, 200).astype(float)
    pairwise = np.mean((b[:, None] > a[None, :]) + 0.5 * (b[:, None] == a[None, :]))
    assert metrics.auroc(a, b) == pytest.approx(pairwise, abs=1e-12)


def test_ood_metrics_keys():
    rng = np.random.default_rng(1)
    id_probs = rng.dirichlet(np.full(10, 0.1), size=(4, 50))
    ood_probs = rng.dirichlet(np.full(10, 2.0), size=(4, 50))
    out = metrics.ood_metrics(id_probs, ood_probs)
    assert set(out) == {f"{m}_{s}" for m in ("auroc", "aupr", "fpr95") for s in ("entropy", "mi")}
    assert out["auroc_entropy"] > 0.9  # flatter OOD predictions have higher entropy
