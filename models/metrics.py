"""Prediction and uncertainty metrics on MC probabilities, in numpy, written from the definitions.

This is the reference the C++ metrics are cross-checked against; models/README.md states each
definition. Inputs: probs [T, N, C] (per-sample softmax) or p_bar [N, C] (their mean over T).
"""

from typing import Any, Dict, Tuple

import numpy as np

ECE_BINS = 15
NLL_FLOOR = 1e-12


def mean_probs(probs: Any) -> np.ndarray:
    """p_bar [N, C] = mean over the T samples of probs [T, N, C]."""
    return np.asarray(probs, dtype=np.float64).mean(axis=0)


def predictions(p_bar: np.ndarray) -> np.ndarray:
    """Predicted class: argmax of p_bar (first index on ties)."""
    return np.argmax(p_bar, axis=1)


def accuracy(p_bar: np.ndarray, labels: Any) -> float:
    """Fraction of examples whose argmax p_bar equals the label."""
    return float(np.mean(predictions(p_bar) == np.asarray(labels)))


def nll(p_bar: np.ndarray, labels: Any) -> float:
    """Mean of -ln(max(p_bar[y], 1e-12))."""
    p_bar = np.asarray(p_bar, dtype=np.float64)
    p_true = p_bar[np.arange(len(p_bar)), np.asarray(labels)]
    return float(np.mean(-np.log(np.maximum(p_true, NLL_FLOOR))))


def brier(p_bar: np.ndarray, labels: Any) -> float:
    """Mean over examples of sum_c (p_bar[c] - onehot(y)[c])^2 (range 0..2)."""
    p_bar = np.asarray(p_bar, dtype=np.float64)
    onehot = np.zeros_like(p_bar)
    onehot[np.arange(len(p_bar)), np.asarray(labels)] = 1.0
    return float(np.mean(np.sum((p_bar - onehot) ** 2, axis=1)))


def ece(p_bar: np.ndarray, labels: Any, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error: sum_b (n_b/N) |acc_b - conf_b| over max-prob confidence.

    Bin b holds confidences in (b/n_bins, (b+1)/n_bins]; a confidence of exactly 0 goes to bin 0.
    """
    p_bar = np.asarray(p_bar, dtype=np.float64)
    conf = p_bar.max(axis=1)
    correct = (predictions(p_bar) == np.asarray(labels)).astype(np.float64)
    n = len(conf)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        in_bin = (conf > lo) & (conf <= hi)
        if b == 0:
            in_bin |= conf == 0.0
        n_b = int(in_bin.sum())
        if n_b:
            total += n_b / n * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(total)


def entropy(p: Any) -> np.ndarray:
    """Natural-log entropy along the last axis, with 0 ln 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=-1)


def predictive_entropy(probs: Any) -> np.ndarray:
    """H[p_bar] per example, from probs [T, N, C]."""
    return entropy(mean_probs(probs))


def mutual_information(probs: Any) -> np.ndarray:
    """MI = H[p_bar] - mean_t H[p_t] per example, from probs [T, N, C]."""
    probs = np.asarray(probs, dtype=np.float64)
    return entropy(probs.mean(axis=0)) - entropy(probs).mean(axis=0)


def _split_scores(id_scores: Any, ood_scores: Any) -> Tuple[np.ndarray, np.ndarray]:
    id_scores = np.asarray(id_scores, dtype=np.float64).ravel()
    ood_scores = np.asarray(ood_scores, dtype=np.float64).ravel()
    if not len(id_scores) or not len(ood_scores):
        raise ValueError("OOD metrics need at least one ID and one OOD score")
    return id_scores, ood_scores


def auroc(id_scores: Any, ood_scores: Any) -> float:
    """P(score_ood > score_id) + 1/2 P(score_ood == score_id): OOD is the positive class."""
    id_scores, ood_scores = _split_scores(id_scores, ood_scores)
    id_sorted = np.sort(id_scores)
    below = np.searchsorted(id_sorted, ood_scores, side="left")
    below_or_equal = np.searchsorted(id_sorted, ood_scores, side="right")
    wins = below.sum() + 0.5 * (below_or_equal - below).sum()
    return float(wins / (len(id_scores) * len(ood_scores)))


def _threshold_counts(id_scores: np.ndarray, ood_scores: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """TP and FP counts when predicting OOD for score >= t, for each distinct t, descending."""
    scores = np.concatenate([ood_scores, id_scores])
    is_ood = np.concatenate([np.ones(len(ood_scores)), np.zeros(len(id_scores))])
    order = np.argsort(-scores, kind="stable")
    scores, is_ood = scores[order], is_ood[order]
    last_of_group = np.r_[scores[1:] != scores[:-1], True]
    tp = np.cumsum(is_ood)[last_of_group]
    fp = np.cumsum(1.0 - is_ood)[last_of_group]
    return tp, fp


def aupr(id_scores: Any, ood_scores: Any) -> float:
    """Average precision with OOD positive: sum_k (R_k - R_{k-1}) P_k over distinct thresholds."""
    id_scores, ood_scores = _split_scores(id_scores, ood_scores)
    tp, fp = _threshold_counts(id_scores, ood_scores)
    precision = tp / (tp + fp)
    recall = tp / len(ood_scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fpr_at_tpr(id_scores: Any, ood_scores: Any, tpr: float = 0.95) -> float:
    """FPR at the highest threshold t (predict OOD if score >= t) whose TPR is >= tpr."""
    id_scores, ood_scores = _split_scores(id_scores, ood_scores)
    tp, fp = _threshold_counts(id_scores, ood_scores)
    reached = np.nonzero(tp / len(ood_scores) >= tpr)[0]
    return float(fp[reached[0]] / len(id_scores))


def classification_metrics(probs: Any, labels: Any) -> Dict[str, float]:
    """accuracy, nll, brier, ece and mean entropy/MI from probs [T, N, C]."""
    p_bar = mean_probs(probs)
    return {
        "accuracy": accuracy(p_bar, labels),
        "nll": nll(p_bar, labels),
        "brier": brier(p_bar, labels),
        "ece": ece(p_bar, labels),
        "mean_entropy": float(predictive_entropy(probs).mean()),
        "mean_mi": float(mutual_information(probs).mean()),
    }


def ood_metrics(id_probs: Any, ood_probs: Any) -> Dict[str, float]:
    """AUROC, AUPR, FPR@95%TPR by entropy and by MI (OOD positive)."""
    out = {}
    for name, fn in (("entropy", predictive_entropy), ("mi", mutual_information)):
        s_id, s_ood = fn(id_probs), fn(ood_probs)
        out[f"auroc_{name}"] = auroc(s_id, s_ood)
        out[f"aupr_{name}"] = aupr(s_id, s_ood)
        out[f"fpr95_{name}"] = fpr_at_tpr(s_id, s_ood)
    return out
