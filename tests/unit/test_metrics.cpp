#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "sim/metrics.h"

namespace bayescim::sim {
namespace {

// ---- softmax and entropy -------------------------------------------------------------------

TEST(Softmax, MatchesClosedForm) {
  const float logits[] = {0.0f, std::log(3.0f)};  // exp ratio 1:3
  const auto p = softmax(logits, 2);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[0], 0.25, 1e-7);
  EXPECT_NEAR(p[1], 0.75, 1e-7);
}

TEST(Softmax, InvariantToConstantShift) {
  const float a[] = {1.0f, 2.0f, 3.0f, -4.0f};
  const float b[] = {1001.0f, 1002.0f, 1003.0f, 996.0f};  // a + 1000, exact in float
  const auto pa = softmax(a, 4);
  const auto pb = softmax(b, 4);
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(pa[c], pb[c], 1e-12);
}

TEST(Softmax, NoOverflowAtLargeLogits) {
  const float logits[] = {1e4f, 1e4f - 1.0f, 0.0f, -1e4f};
  const auto p = softmax(logits, 4);
  // Closed form: the top two share 1 in the ratio 1 : e^-1; the others underflow to 0.
  const double e = std::exp(-1.0);
  EXPECT_NEAR(p[0], 1.0 / (1.0 + e), 1e-12);
  EXPECT_NEAR(p[1], e / (1.0 + e), 1e-12);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(p[3], 0.0);
}

TEST(Softmax, RejectsBadInput) {
  const float nan_logit[] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  const float inf_logit[] = {std::numeric_limits<float>::infinity(), 0.0f};
  EXPECT_THROW(softmax(nan_logit, 2), std::invalid_argument);
  EXPECT_THROW(softmax(inf_logit, 2), std::invalid_argument);
  EXPECT_THROW(softmax(nan_logit, 0), std::invalid_argument);
}

TEST(Entropy, UniformIsLogC) {
  for (int C : {1, 2, 10, 1000}) {
    const std::vector<double> p(C, 1.0 / C);
    EXPECT_NEAR(entropy(p), std::log(static_cast<double>(C)), 1e-12) << "C=" << C;
  }
}

TEST(Entropy, ZeroTimesLogZeroIsZero) {
  EXPECT_EQ(entropy({1.0, 0.0, 0.0}), 0.0);
  // H(0.5, 0.5, 0) = ln 2
  EXPECT_NEAR(entropy({0.5, 0.5, 0.0}), std::log(2.0), 1e-15);
}

// ---- mutual information --------------------------------------------------------------------

// Feeds T samples of logits the way the runner does: p̄ and the mean sample entropy.
void add_samples(MetricsAccumulator& acc, const std::vector<std::vector<float>>& samples,
                 int label) {
  const int C = static_cast<int>(samples.front().size());
  std::vector<double> p_bar(C, 0.0);
  double h_mean = 0.0;
  for (const auto& logits : samples) {
    const auto p = softmax(logits.data(), C);
    for (int c = 0; c < C; ++c) p_bar[c] += p[c] / static_cast<double>(samples.size());
    h_mean += entropy(p) / static_cast<double>(samples.size());
  }
  acc.add(p_bar, h_mean, label);
}

TEST(MutualInformation, ZeroWhenAllSamplesIdentical) {
  MetricsAccumulator acc;
  add_samples(acc, {{0.3f, -1.2f, 2.0f}, {0.3f, -1.2f, 2.0f}, {0.3f, -1.2f, 2.0f}}, 2);
  EXPECT_GE(acc.records()[0].mi, 0.0);
  EXPECT_NEAR(acc.records()[0].mi, 0.0, 1e-12);
}

TEST(MutualInformation, TwoOneHotSamplesOfDifferentClassesIsLn2) {
  // softmax({1e4, 0}) is exactly one-hot in double; p̄ = (0.5, 0.5), each H[p_t] = 0.
  MetricsAccumulator acc;
  add_samples(acc, {{1e4f, 0.0f}, {0.0f, 1e4f}}, 0);
  const ImageRecord& r = acc.records()[0];
  EXPECT_NEAR(r.entropy, std::log(2.0), 1e-15);
  EXPECT_NEAR(r.mi, std::log(2.0), 1e-15);
}

TEST(MutualInformation, TinyNegativeRoundingClampedLargerKept) {
  MetricsAccumulator acc;
  const std::vector<double> p = {0.5, 0.5};
  acc.add(p, std::log(2.0) + 1e-14, 0);  // rounding-sized excess
  acc.add(p, std::log(2.0) + 1e-3, 0);   // inconsistent input: shows as negative MI
  EXPECT_EQ(acc.records()[0].mi, 0.0);
  EXPECT_NEAR(acc.records()[1].mi, -1e-3, 1e-12);
}

// ---- in-distribution metrics ---------------------------------------------------------------

// Five labelled images over 3 classes, and the hand computation of their metrics:
//
//   p̄                   label pred conf  correct  bin (i/15, (i+1)/15]   Brier term
//   (0.9, 0.05, 0.05)    0     0   0.9   yes      13 (0.867, 0.933]       .01+.0025+.0025 = .015
//   (0.05, 0.9, 0.05)    0     1   0.9   no       13                      .9025+.81+.0025 = 1.715
//   (0.6, 0.3, 0.1)      0     0   0.6   yes       8 (0.533, 0.6]         .16+.09+.01     = .26
//   (0.5, 0.5, 0.0)      1     0   0.5   no        7 (0.467, 0.533]       .25+.25+0       = .5
//   (0.1, 0.2, 0.7)      2     2   0.7   yes      10 (0.667, 0.733]       .01+.04+.09     = .14
//
// (The 4th is a tie: argmax goes to the lowest index, 0, so it is wrong.)
// accuracy = 3/5 = 0.6
// Brier    = (.015 + 1.715 + .26 + .5 + .14) / 5 = 2.63 / 5 = 0.526
// NLL      = -(ln .9 + ln .05 + ln .6 + ln .5 + ln .7) / 5
// ECE: bin 13: n=2 acc .5 conf .9 -> 2/5·.4 = .16
//      bin  8: n=1 acc 1  conf .6 -> 1/5·.4 = .08
//      bin  7: n=1 acc 0  conf .5 -> 1/5·.5 = .10
//      bin 10: n=1 acc 1  conf .7 -> 1/5·.3 = .06     ECE = 0.40
// The OOD image (label -1) must change none of them.
MetricsAccumulator hand_example() {
  MetricsAccumulator acc;
  acc.add({0.9, 0.05, 0.05}, 0.0, 0);
  acc.add({0.05, 0.9, 0.05}, 0.0, 0);
  acc.add({0.6, 0.3, 0.1}, 0.0, 0);
  acc.add({1.0 / 3, 1.0 / 3, 1.0 / 3}, 0.0, -1);
  acc.add({0.5, 0.5, 0.0}, 0.0, 1);
  acc.add({0.1, 0.2, 0.7}, 0.0, 2);
  return acc;
}

TEST(IdMetrics, HandExample) {
  const MetricsAccumulator acc = hand_example();
  ASSERT_EQ(acc.size(), 6u);
  ASSERT_EQ(acc.labelled_count(), 5u);
  const IdMetrics m = id_metrics(acc);
  EXPECT_EQ(m.count, 5u);
  EXPECT_NEAR(m.accuracy, 0.6, 1e-15);
  EXPECT_NEAR(m.brier, 0.526, 1e-12);
  const double nll =
      -(std::log(0.9) + std::log(0.05) + std::log(0.6) + std::log(0.5) + std::log(0.7)) / 5;
  EXPECT_NEAR(m.nll, nll, 1e-12);
  EXPECT_NEAR(m.ece, 0.40, 1e-12);
}

TEST(IdMetrics, EntropyAndMiMeansSkipOodImages) {
  MetricsAccumulator acc;
  acc.add({0.5, 0.5}, 0.0, 0);             // H = ln 2, MI = ln 2
  acc.add({1.0, 0.0}, 0.0, 0);             // H = 0, MI = 0
  acc.add({0.5, 0.5}, std::log(2.0), -1);  // OOD: ignored by id_metrics
  const IdMetrics m = id_metrics(acc);
  EXPECT_NEAR(m.entropy_mean, std::log(2.0) / 2, 1e-15);
  EXPECT_NEAR(m.mi_mean, std::log(2.0) / 2, 1e-15);
}

TEST(IdMetrics, NllFloorsZeroProbability) {
  MetricsAccumulator acc;
  acc.add({1.0, 0.0}, 0.0, 1);
  EXPECT_NEAR(id_metrics(acc).nll, -std::log(1e-12), 1e-9);
}

TEST(IdMetrics, ThrowsWithoutLabelledImages) {
  MetricsAccumulator acc;
  EXPECT_THROW(id_metrics(acc), std::invalid_argument);
  acc.add({0.5, 0.5}, 0.0, -1);
  EXPECT_THROW(id_metrics(acc), std::invalid_argument);
}

TEST(IdMetrics, ReliabilityBinsOfHandExample) {
  const auto bins = reliability_bins(hand_example());
  std::size_t total = 0;
  for (const auto& b : bins) total += b.count;
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(bins[13].count, 2u);
  EXPECT_NEAR(bins[13].mean_confidence, 0.9, 1e-15);
  EXPECT_NEAR(bins[13].accuracy, 0.5, 1e-15);
  EXPECT_EQ(bins[8].count, 1u);
  EXPECT_EQ(bins[7].count, 1u);
  EXPECT_EQ(bins[7].accuracy, 0.0);
  EXPECT_EQ(bins[10].count, 1u);
  EXPECT_EQ(bins[0].count, 0u);
  EXPECT_EQ(bins[0].lower, 0.0);
  EXPECT_EQ(bins[14].upper, 1.0);
  EXPECT_NEAR(bins[8].upper, 0.6, 1e-15);
}

TEST(EceBin, EdgesAreUpperInclusive) {
  EXPECT_EQ(ece_bin(0.0), 0);
  EXPECT_EQ(ece_bin(1e-300), 0);
  EXPECT_EQ(ece_bin(1.0 / 15), 0);
  EXPECT_EQ(ece_bin(0.0667), 1);  // just above 1/15 = 0.06667
  EXPECT_EQ(ece_bin(2.0 / 15), 1);
  EXPECT_EQ(ece_bin(0.6), 8);  // 9/15
  EXPECT_EQ(ece_bin(14.0 / 15), 13);
  EXPECT_EQ(ece_bin(1.0), 14);
  for (int i = 1; i <= 15; ++i) {
    const double edge = i / 15.0;
    EXPECT_EQ(ece_bin(edge), i - 1) << "edge " << i;
    EXPECT_EQ(ece_bin(std::nextafter(edge, 0.0)), i - 1) << "below edge " << i;
    if (i < 15) {
      EXPECT_EQ(ece_bin(std::nextafter(edge, 1.0)), i) << "above edge " << i;
    }
  }
  EXPECT_THROW(ece_bin(1.0 + 1e-9), std::invalid_argument);
  EXPECT_THROW(ece_bin(std::nan("")), std::invalid_argument);
}

TEST(MetricsAccumulator, RecordsPredEntropyAndMi) {
  MetricsAccumulator acc;
  acc.add({0.2, 0.3, 0.5}, 0.5, 1);
  acc.add({0.25, 0.25, 0.5}, 0.0, -1);
  const auto& r = acc.records();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].pred, 2);
  EXPECT_EQ(r[0].label, 1);
  EXPECT_EQ(r[0].confidence, 0.5);
  const double h0 = -(0.2 * std::log(0.2) + 0.3 * std::log(0.3) + 0.5 * std::log(0.5));
  EXPECT_NEAR(r[0].entropy, h0, 1e-15);
  EXPECT_NEAR(r[0].mi, h0 - 0.5, 1e-15);
  EXPECT_EQ(r[1].label, -1);
  EXPECT_NEAR(r[1].entropy, 1.5 * std::log(2.0), 1e-15);  // 2·(¼ ln 4) + ½ ln 2
  EXPECT_EQ(acc.entropies().size(), 2u);
  EXPECT_EQ(acc.mutual_informations()[1], r[1].mi);
  EXPECT_EQ(acc.num_classes(), 3);
}

TEST(MetricsAccumulator, RejectsBadInput) {
  MetricsAccumulator acc;
  EXPECT_THROW(acc.add({}, 0.0, -1), std::invalid_argument);
  EXPECT_THROW(acc.add({0.5, 0.5}, 0.0, 2), std::invalid_argument);   // label >= C
  EXPECT_THROW(acc.add({0.5, 0.5}, 0.0, -2), std::invalid_argument);  // label < -1
  EXPECT_THROW(acc.add({2.0, -1.0}, 0.0, 0), std::invalid_argument);  // not probabilities
  EXPECT_THROW(acc.add({3.0, 4.0}, 0.0, 0), std::invalid_argument);   // logits by mistake
  EXPECT_THROW(acc.add({0.5, 0.5}, -0.1, 0), std::invalid_argument);
  acc.add({0.5, 0.5}, 0.0, 0);
  EXPECT_THROW(acc.add({0.2, 0.3, 0.5}, 0.0, 0), std::invalid_argument);  // C changed
  EXPECT_EQ(acc.size(), 1u);
}

// ---- OOD detection -------------------------------------------------------------------------

// ID (negatives) {0.1, 0.4, 0.4, 0.8}, OOD (positives) {0.4, 0.9, 0.3}.
const std::vector<double> kId = {0.1, 0.4, 0.4, 0.8};
const std::vector<double> kOod = {0.4, 0.9, 0.3};

TEST(Auroc, HandCountedPairsWithTie) {
  // Count the 3·4 = 12 (ood, id) pairs, 1 for ood > id, 0.5 for a tie:
  //   ood 0.4: > 0.1 (1), = 0.4 twice (0.5 + 0.5), < 0.8 (0)  -> 2
  //   ood 0.9: > all four                                       -> 4
  //   ood 0.3: > 0.1 only                                       -> 1
  // AUROC = 7 / 12
  EXPECT_NEAR(auroc(kId, kOod), 7.0 / 12, 1e-15);
}

TEST(Auroc, PerfectSeparationAndIdenticalSets) {
  const std::vector<double> low = {0.1, 0.2, 0.2, 0.3};
  const std::vector<double> high = {0.5, 0.6, 0.9};
  EXPECT_EQ(auroc(low, high), 1.0);
  EXPECT_EQ(auroc(high, low), 0.0);
  const std::vector<double> same = {0.3, 0.1, 0.3, 0.7, 0.2, 0.7, 0.7};
  EXPECT_EQ(auroc(same, same), 0.5);
  EXPECT_EQ(auroc({1.0, 1.0}, {1.0, 1.0, 1.0}), 0.5);
}

// Independent O(n²) AUROC by counting every pair.
double auroc_brute_force(const std::vector<double>& id, const std::vector<double>& ood) {
  double wins = 0.0;
  for (double o : ood)
    for (double i : id) wins += o > i ? 1.0 : (o == i ? 0.5 : 0.0);
  return wins / (static_cast<double>(id.size()) * static_cast<double>(ood.size()));
}

// Independent O(n²) average precision: precision and recall recounted at each distinct score.
double average_precision_brute_force(const std::vector<double>& id,
                                     const std::vector<double>& ood) {
  std::vector<double> thresholds = id;
  thresholds.insert(thresholds.end(), ood.begin(), ood.end());
  std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  double ap = 0.0, prev_recall = 0.0;
  for (double t : thresholds) {
    double tp = 0, fp = 0;
    for (double o : ood) tp += o >= t;
    for (double i : id) fp += i >= t;
    const double recall = tp / static_cast<double>(ood.size());
    ap += (recall - prev_recall) * tp / (tp + fp);
    prev_recall = recall;
  }
  return ap;
}

TEST(Auroc, MatchesBruteForceOnRandomTiedScores) {
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 20; ++trial) {
    std::uniform_int_distribution<int> level(0, 4 + trial % 7);  // few levels: many ties
    std::vector<double> id(150 + 13 * trial), ood(90 + 7 * trial);
    for (double& s : id) s = 0.1 * level(rng);
    for (double& s : ood) s = 0.1 * (level(rng) + trial % 3);  // shifted up a little
    EXPECT_NEAR(auroc(id, ood), auroc_brute_force(id, ood), 1e-12) << "trial " << trial;
    EXPECT_NEAR(average_precision(id, ood), average_precision_brute_force(id, ood), 1e-12)
        << "trial " << trial;
  }
}

TEST(AveragePrecision, HandExampleWithTie) {
  // Descending thresholds over kId / kOod (P = 3):
  //   >= 0.9: TP 1 FP 0, recall 1/3, precision 1    -> 1/3 · 1
  //   >= 0.8: TP 1 FP 1, recall unchanged            -> 0
  //   >= 0.4: TP 2 FP 3 (tie group of one ood, two id), recall 2/3, precision 2/5 -> 1/3 · 2/5
  //   >= 0.3: TP 3 FP 3, recall 1, precision 1/2    -> 1/3 · 1/2
  //   >= 0.1: recall unchanged                       -> 0
  // AP = 1/3 + 2/15 + 1/6 = 19/30
  EXPECT_NEAR(average_precision(kId, kOod), 19.0 / 30, 1e-15);
}

TEST(AveragePrecision, PerfectSeparationIsOne) {
  EXPECT_EQ(average_precision({0.1, 0.2}, {0.3, 0.4, 0.4}), 1.0);
}

TEST(Fpr95, HandExamples) {
  // kId / kOod: TPR >= 0.95 needs all 3 OOD, first reached at threshold 0.3, where the ID
  // scores 0.8, 0.4, 0.4 are also flagged: FPR = 3/4.
  EXPECT_NEAR(fpr_at_95_tpr(kId, kOod), 0.75, 1e-15);

  // OOD scores 1..20, ID {0.5, 1.5, 10.5, 25}. TPR >= 0.95 needs 19 of 20 OOD: threshold 2
  // (scores >= 2), flagging ID 10.5 and 25: FPR = 2/4. Threshold 1 reaches TPR 1 at FPR 3/4.
  std::vector<double> ood;
  for (int s = 1; s <= 20; ++s) ood.push_back(s);
  EXPECT_NEAR(fpr_at_95_tpr({0.5, 1.5, 10.5, 25.0}, ood), 0.5, 1e-15);
}

TEST(Fpr95, PerfectSeparationIsZero) { EXPECT_EQ(fpr_at_95_tpr({0.1, 0.2}, {0.3, 0.4}), 0.0); }

TEST(Detection, RejectsEmptyAndNan) {
  EXPECT_THROW(auroc({}, {1.0}), std::invalid_argument);
  EXPECT_THROW(average_precision({1.0}, {}), std::invalid_argument);
  EXPECT_THROW(fpr_at_95_tpr({1.0, std::nan("")}, {1.0}), std::invalid_argument);
}

TEST(Detection, BundleMatchesSingleMetrics) {
  const DetectionMetrics d = detection_metrics(kId, kOod);
  EXPECT_EQ(d.auroc, auroc(kId, kOod));
  EXPECT_EQ(d.aupr, average_precision(kId, kOod));
  EXPECT_EQ(d.fpr95, fpr_at_95_tpr(kId, kOod));
}

TEST(OodMetrics, UsesEntropyAndMiOfEveryImage) {
  // ID: confident and consistent. OOD: spread out; the first also disagrees across samples.
  MetricsAccumulator id, ood;
  id.add({0.9, 0.1}, 0.3, 0);
  id.add({0.8, 0.2}, 0.45, 1);
  ood.add({0.5, 0.5}, 0.0, -1);  // H ln 2, MI ln 2
  ood.add({0.6, 0.4}, 0.6, -1);  // MI about 0.073
  const OodMetrics m = ood_metrics(id, ood);
  const auto h_id = id.entropies(), h_ood = ood.entropies();
  const auto mi_id = id.mutual_informations(), mi_ood = ood.mutual_informations();
  EXPECT_EQ(m.auroc_entropy, auroc(h_id, h_ood));
  EXPECT_EQ(m.auroc_mi, auroc(mi_id, mi_ood));
  EXPECT_EQ(m.aupr_entropy, average_precision(h_id, h_ood));
  EXPECT_EQ(m.aupr_mi, average_precision(mi_id, mi_ood));
  EXPECT_EQ(m.fpr95_entropy, fpr_at_95_tpr(h_id, h_ood));
  EXPECT_EQ(m.fpr95_mi, fpr_at_95_tpr(mi_id, mi_ood));
  EXPECT_EQ(m.auroc_entropy, 1.0);  // every OOD entropy exceeds every ID entropy
}

}  // namespace
}  // namespace bayescim::sim
