#pragma once

// Prediction-quality and uncertainty metrics of a Monte Carlo BayNN run.
//
// Per image the runner gives p̄ = (1/T) Σ_t softmax(logits_t) and (1/T) Σ_t H[p_t]. From these:
//   predictive entropy H[p̄] and mutual information MI = H[p̄] − (1/T) Σ_t H[p_t], natural log;
//   ID metrics (accuracy, NLL, Brier, ECE) over labelled images;
//   OOD detection metrics with the ID set as negatives and the OOD set as positives.

#include <array>
#include <cstddef>
#include <vector>

namespace bayescim::sim {

// Numerically stable softmax of C logits, in double. Throws std::invalid_argument if C < 1 or a
// logit is not finite.
std::vector<double> softmax(const float* logits, int C);

// Shannon entropy in nats, with 0·log 0 = 0.
double entropy(const std::vector<double>& p);

// One image of a run, kept for predictions.csv and for the OOD metrics.
struct ImageRecord {
  int label = -1;           // true class, or -1 for an OOD image
  int pred = 0;             // argmax p̄, ties to the lowest index
  double confidence = 0.0;  // max p̄
  double entropy = 0.0;     // H[p̄]
  double mi = 0.0;          // H[p̄] − mean_t H[p_t]
};

// Collects a run image by image. Images with label -1 only feed the uncertainty scores.
class MetricsAccumulator {
 public:
  // mean_probs is p̄ (entries in [0,1], summing to 1 within 1e-6, same length for every image);
  // mean_sample_entropy is (1/T) Σ_t H[p_t] in nats; label is in [0, C) or -1.
  // Throws std::invalid_argument on anything else.
  // MI is clamped to 0 only when it is negative by less than 1e-12 (rounding); a larger
  // negative value means inconsistent inputs and is kept as is, so it shows.
  void add(const std::vector<double>& mean_probs, double mean_sample_entropy, int label);

  const std::vector<ImageRecord>& records() const { return records_; }
  // p̄ of every image in add() order, flattened [image * C + class].
  const std::vector<double>& mean_probs() const { return probs_; }
  std::size_t size() const { return records_.size(); }
  std::size_t labelled_count() const { return labelled_; }
  int num_classes() const { return classes_; }  // 0 before the first add

  // Per-image scores in add() order, for ood_metrics().
  std::vector<double> entropies() const;
  std::vector<double> mutual_informations() const;

  // Sums over labelled images, for id_metrics().
  double nll_sum() const { return nll_sum_; }
  double brier_sum() const { return brier_sum_; }

 private:
  std::vector<ImageRecord> records_;
  std::vector<double> probs_;  // p̄ of every image, [image][class]
  std::size_t labelled_ = 0;
  int classes_ = 0;
  double nll_sum_ = 0.0;
  double brier_sum_ = 0.0;
};

// ---- In-distribution metrics -------------------------------------------------------------

constexpr int kEceBins = 15;

// ECE bin of a confidence: bin i covers (i/15, (i+1)/15]; 0 goes to bin 0.
// Throws std::invalid_argument outside [0, 1] or for NaN.
int ece_bin(double confidence);

// One bin of the reliability diagram. An empty bin has count 0 and both means 0.
struct ReliabilityBin {
  double lower = 0.0;  // exclusive, except 0 for bin 0
  double upper = 0.0;  // inclusive
  std::size_t count = 0;
  double mean_confidence = 0.0;
  double accuracy = 0.0;
};

// Reliability diagram over the labelled images.
std::array<ReliabilityBin, kEceBins> reliability_bins(const MetricsAccumulator& acc);

// Means over the labelled images (count of them).
//   accuracy: fraction with argmax p̄ == label;
//   nll:      −log(max(p̄[label], 1e-12));
//   brier:    Σ_c (p̄_c − onehot_c)², summed over classes, not divided by C (range [0, 2]);
//   ece:      Σ_b (n_b/N)·|acc_b − conf_b| over the 15 bins of ece_bin();
//   entropy_mean, mi_mean: means of H[p̄] and MI.
struct IdMetrics {
  double accuracy = 0.0;
  double nll = 0.0;
  double brier = 0.0;
  double ece = 0.0;
  double entropy_mean = 0.0;
  double mi_mean = 0.0;
  std::size_t count = 0;
};

// Throws std::invalid_argument if acc holds no labelled image.
IdMetrics id_metrics(const MetricsAccumulator& acc);

// ---- Out-of-distribution detection ---------------------------------------------------------
//
// Conventions (ID images are negatives, OOD images positives, a higher score means "more OOD"):
//   AUROC: P(s_ood > s_id) + 0.5·P(s_ood == s_id) over all (ood, id) pairs, ties exact.
//   AUPR:  average precision Σ_k (R_k − R_{k−1})·P_k over thresholds at each distinct score,
//          taken in descending order; a group of tied scores is one threshold step. No
//          interpolation (the scikit-learn average_precision_score convention).
//   FPR95: a threshold thr predicts OOD iff score >= thr; the smallest FPR over the thresholds
//          whose TPR >= 0.95.
// All throw std::invalid_argument if either set is empty or a score is NaN.

double auroc(const std::vector<double>& id_scores, const std::vector<double>& ood_scores);
double average_precision(const std::vector<double>& id_scores,
                         const std::vector<double>& ood_scores);
double fpr_at_95_tpr(const std::vector<double>& id_scores, const std::vector<double>& ood_scores);

// The three detection metrics for one score.
struct DetectionMetrics {
  double auroc = 0.0;
  double aupr = 0.0;
  double fpr95 = 0.0;
};

DetectionMetrics detection_metrics(const std::vector<double>& id_scores,
                                   const std::vector<double>& ood_scores);

// Detection by predictive entropy and by mutual information.
struct OodMetrics {
  double auroc_entropy = 0.0;
  double auroc_mi = 0.0;
  double aupr_entropy = 0.0;
  double aupr_mi = 0.0;
  double fpr95_entropy = 0.0;
  double fpr95_mi = 0.0;
};

// All images of id are negatives and all images of ood positives, whatever their labels.
OodMetrics ood_metrics(const MetricsAccumulator& id, const MetricsAccumulator& ood);

}  // namespace bayescim::sim
