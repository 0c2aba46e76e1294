#include "sim/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace bayescim::sim {

std::vector<double> softmax(const float* logits, int C) {
  if (C < 1)
    throw std::invalid_argument("softmax: need at least one logit, got " + std::to_string(C));
  double max_logit = -std::numeric_limits<double>::infinity();
  for (int c = 0; c < C; ++c) {
    if (!std::isfinite(logits[c]))
      throw std::invalid_argument("softmax: logit " + std::to_string(c) + " is not finite");
    max_logit = std::max(max_logit, static_cast<double>(logits[c]));
  }
  std::vector<double> p(static_cast<std::size_t>(C));
  double sum = 0.0;
  for (int c = 0; c < C; ++c) {
    p[c] = std::exp(static_cast<double>(logits[c]) - max_logit);
    sum += p[c];
  }
  for (double& v : p) v /= sum;  // sum >= 1: the max term is exp(0)
  return p;
}

double entropy(const std::vector<double>& p) {
  double h = 0.0;
  for (double v : p)
    if (v > 0.0) h -= v * std::log(v);
  return h;
}

void MetricsAccumulator::add(const std::vector<double>& mean_probs, double mean_sample_entropy,
                             int label) {
  const int C = static_cast<int>(mean_probs.size());
  if (C == 0) throw std::invalid_argument("MetricsAccumulator::add: empty probability vector");
  if (classes_ != 0 && C != classes_)
    throw std::invalid_argument("MetricsAccumulator::add: got " + std::to_string(C) +
                                " class probabilities, earlier images had " +
                                std::to_string(classes_));
  if (label < -1 || label >= C)
    throw std::invalid_argument("MetricsAccumulator::add: label " + std::to_string(label) +
                                " outside [0, " + std::to_string(C) + ") and not -1");
  double sum = 0.0;
  for (double v : mean_probs) {
    if (!(v >= 0.0 && v <= 1.0))
      throw std::invalid_argument("MetricsAccumulator::add: probability " + std::to_string(v) +
                                  " outside [0, 1]");
    sum += v;
  }
  if (std::abs(sum - 1.0) > 1e-6)
    throw std::invalid_argument("MetricsAccumulator::add: probabilities sum to " +
                                std::to_string(sum) + ", expected 1");
  if (!(mean_sample_entropy >= 0.0 && std::isfinite(mean_sample_entropy)))
    throw std::invalid_argument("MetricsAccumulator::add: mean sample entropy " +
                                std::to_string(mean_sample_entropy) +
                                " is not a finite value >= 0");
  classes_ = C;

  ImageRecord r;
  r.label = label;
  r.pred = static_cast<int>(std::max_element(mean_probs.begin(), mean_probs.end()) -
                            mean_probs.begin());  // first maximum: ties to the lowest index
  r.confidence = mean_probs[r.pred];
  r.entropy = entropy(mean_probs);
  r.mi = r.entropy - mean_sample_entropy;
  if (r.mi < 0.0 && r.mi > -1e-12) r.mi = 0.0;
  records_.push_back(r);
  probs_.insert(probs_.end(), mean_probs.begin(), mean_probs.end());

  if (label < 0) return;
  ++labelled_;
  nll_sum_ += -std::log(std::max(mean_probs[label], 1e-12));
  for (int c = 0; c < C; ++c) {
    const double d = mean_probs[c] - (c == label ? 1.0 : 0.0);
    brier_sum_ += d * d;
  }
}

std::vector<double> MetricsAccumulator::entropies() const {
  std::vector<double> out;
  out.reserve(records_.size());
  for (const ImageRecord& r : records_) out.push_back(r.entropy);
  return out;
}

std::vector<double> MetricsAccumulator::mutual_informations() const {
  std::vector<double> out;
  out.reserve(records_.size());
  for (const ImageRecord& r : records_) out.push_back(r.mi);
  return out;
}

// ---- In-distribution -----------------------------------------------------------------------

namespace {

double bin_edge(int i) { return static_cast<double>(i) / kEceBins; }

}  // namespace

int ece_bin(double confidence) {
  if (!(confidence >= 0.0 && confidence <= 1.0))
    throw std::invalid_argument("ece_bin: confidence " + std::to_string(confidence) +
                                " outside [0, 1]");
  if (confidence == 0.0) return 0;
  int i = static_cast<int>(std::ceil(confidence * kEceBins)) - 1;
  i = std::clamp(i, 0, kEceBins - 1);
  // Settle rounding in confidence·15 against the same edges reliability_bins() reports.
  if (i > 0 && confidence <= bin_edge(i)) --i;
  if (i < kEceBins - 1 && confidence > bin_edge(i + 1)) ++i;
  return i;
}

std::array<ReliabilityBin, kEceBins> reliability_bins(const MetricsAccumulator& acc) {
  std::array<ReliabilityBin, kEceBins> bins;
  std::array<std::size_t, kEceBins> correct{};
  for (int i = 0; i < kEceBins; ++i) {
    bins[i].lower = bin_edge(i);
    bins[i].upper = bin_edge(i + 1);
  }
  for (const ImageRecord& r : acc.records()) {
    if (r.label < 0) continue;
    const int i = ece_bin(r.confidence);
    ++bins[i].count;
    bins[i].mean_confidence += r.confidence;
    if (r.pred == r.label) ++correct[i];
  }
  for (int i = 0; i < kEceBins; ++i) {
    if (bins[i].count == 0) continue;
    const double n = static_cast<double>(bins[i].count);
    bins[i].mean_confidence /= n;
    bins[i].accuracy = static_cast<double>(correct[i]) / n;
  }
  return bins;
}

IdMetrics id_metrics(const MetricsAccumulator& acc) {
  if (acc.labelled_count() == 0) throw std::invalid_argument("id_metrics: no labelled images");
  IdMetrics m;
  m.count = acc.labelled_count();
  const double n = static_cast<double>(m.count);
  std::size_t correct = 0;
  for (const ImageRecord& r : acc.records()) {
    if (r.label < 0) continue;
    if (r.pred == r.label) ++correct;
    m.entropy_mean += r.entropy;
    m.mi_mean += r.mi;
  }
  m.accuracy = static_cast<double>(correct) / n;
  m.nll = acc.nll_sum() / n;
  m.brier = acc.brier_sum() / n;
  m.entropy_mean /= n;
  m.mi_mean /= n;
  for (const ReliabilityBin& b : reliability_bins(acc))
    m.ece += static_cast<double>(b.count) / n * std::abs(b.accuracy - b.mean_confidence);
  return m;
}

// ---- Out-of-distribution -------------------------------------------------------------------

namespace {

// Images sharing one score value: a single threshold step.
struct TieGroup {
  std::size_t pos = 0;  // OOD
  std::size_t neg = 0;  // ID
};

// Tie groups in descending score order; validates the inputs.
std::vector<TieGroup> tie_groups_descending(const std::vector<double>& id_scores,
                                            const std::vector<double>& ood_scores,
                                            const char* who) {
  if (id_scores.empty() || ood_scores.empty())
    throw std::invalid_argument(std::string(who) + ": needs ID and OOD scores, got " +
                                std::to_string(id_scores.size()) + " ID and " +
                                std::to_string(ood_scores.size()) + " OOD");
  std::vector<std::pair<double, bool>> all;  // (score, is_ood)
  all.reserve(id_scores.size() + ood_scores.size());
  for (double s : id_scores) all.emplace_back(s, false);
  for (double s : ood_scores) all.emplace_back(s, true);
  for (const auto& [s, is_ood] : all)
    if (std::isnan(s)) throw std::invalid_argument(std::string(who) + ": a score is NaN");
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });

  std::vector<TieGroup> groups;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i == 0 || all[i].first != all[i - 1].first) groups.emplace_back();
    ++(all[i].second ? groups.back().pos : groups.back().neg);
  }
  return groups;
}

double auroc_of(const std::vector<TieGroup>& groups, std::size_t P, std::size_t N) {
  // Twice the Mann-Whitney U, kept integral so ties are exact: each positive scores 2 per
  // negative below it and 1 per negative tied with it.
  std::uint64_t u2 = 0;
  std::size_t neg_below = N;
  for (const TieGroup& g : groups) {
    neg_below -= g.neg;
    u2 += static_cast<std::uint64_t>(g.pos) * (2 * neg_below + g.neg);
  }
  return static_cast<double>(u2) / (2.0 * static_cast<double>(P) * static_cast<double>(N));
}

double average_precision_of(const std::vector<TieGroup>& groups, std::size_t P) {
  double ap = 0.0;
  std::size_t tp = 0, fp = 0;
  for (const TieGroup& g : groups) {
    tp += g.pos;
    fp += g.neg;
    ap += static_cast<double>(g.pos) / static_cast<double>(P) *
          (static_cast<double>(tp) / static_cast<double>(tp + fp));
  }
  return ap;
}

double fpr95_of(const std::vector<TieGroup>& groups, std::size_t P, std::size_t N) {
  // FPR only grows as the threshold falls, so the first threshold reaching the TPR wins.
  std::size_t tp = 0, fp = 0;
  for (const TieGroup& g : groups) {
    tp += g.pos;
    fp += g.neg;
    if (20 * tp >= 19 * P) break;  // TPR >= 0.95, in integers
  }
  return static_cast<double>(fp) / static_cast<double>(N);
}

}  // namespace

double auroc(const std::vector<double>& id_scores, const std::vector<double>& ood_scores) {
  return auroc_of(tie_groups_descending(id_scores, ood_scores, "auroc"), ood_scores.size(),
                  id_scores.size());
}

double average_precision(const std::vector<double>& id_scores,
                         const std::vector<double>& ood_scores) {
  return average_precision_of(tie_groups_descending(id_scores, ood_scores, "average_precision"),
                              ood_scores.size());
}

double fpr_at_95_tpr(const std::vector<double>& id_scores, const std::vector<double>& ood_scores) {
  return fpr95_of(tie_groups_descending(id_scores, ood_scores, "fpr_at_95_tpr"), ood_scores.size(),
                  id_scores.size());
}

DetectionMetrics detection_metrics(const std::vector<double>& id_scores,
                                   const std::vector<double>& ood_scores) {
  const auto groups = tie_groups_descending(id_scores, ood_scores, "detection_metrics");
  const std::size_t P = ood_scores.size(), N = id_scores.size();
  return {auroc_of(groups, P, N), average_precision_of(groups, P), fpr95_of(groups, P, N)};
}

OodMetrics ood_metrics(const MetricsAccumulator& id, const MetricsAccumulator& ood) {
  const DetectionMetrics h = detection_metrics(id.entropies(), ood.entropies());
  const DetectionMetrics mi =
      detection_metrics(id.mutual_informations(), ood.mutual_informations());
  return {h.auroc, mi.auroc, h.aupr, mi.aupr, h.fpr95, mi.fpr95};
}

}  // namespace bayescim::sim
