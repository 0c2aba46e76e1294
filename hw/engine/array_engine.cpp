#include "hw/engine/array_engine.h"

#include <algorithm>

#include "hw/physics/energy_table.h"
#include "hw/physics/kernels.h"

namespace bayescim::hw {

namespace {
CrossbarPhysics reference_physics_of(const ArrayEngine::Config& cfg) {
  if (!cfg.arch.calibrated_references) return CrossbarPhysics(cfg.device.cell);
  const MeanConductances g = mean_conductances(cfg.device.cell, cfg.device.variation);
  return CrossbarPhysics(cfg.device.cell, g.g_p, g.g_ap);
}
}  // namespace

ArrayEngine::ArrayEngine(const Config& cfg)
    : cfg_(cfg),
      phys_(cfg.device.cell),
      ref_phys_(reference_physics_of(cfg)),
      cells_(cfg.device, cfg.arch, cfg.slice, cfg.index, cfg.seed),
      sa_(ref_phys_, cfg.arch.sa_offset_sigma_A, cfg.seed, cfg.index) {
  group_rows_ = std::min(rows_per_read(cfg_.arch), std::max(cfg_.slice.rows, 1));
  groups_ = (cfg_.slice.rows + group_rows_ - 1) / group_rows_;
  adc_levels_ = (1 << adc_bits_for(cfg_.arch)) - 1;
  const std::size_t cols = static_cast<std::size_t>(cfg_.slice.cols);
  read_.codes.assign(cols, 0);
  read_.sa_current.assign(cols, 0.0);
  sum_.assign(cols, 0);
}

std::uint64_t ArrayEngine::program(const models::CompiledLayer& layer) {
  layer_ = &layer;
  const std::uint64_t rounds = cells_.program(layer);
  const auto& s = cfg_.slice;
  const bool two_phase = cfg_.arch.cell == CellScheme::TwoPhase;
  if (cells_.analog() && cfg_.accelerate && cfg_.device.variation.read_disturb_rate == 0)
    cache_.configure(static_cast<std::size_t>(s.positions) * static_cast<std::size_t>(groups_), cells_.words(),
                     static_cast<std::size_t>(s.cols) * (two_phase ? 2 : 1));
  exact_counts_ = !cells_.analog() && !cfg_.sa_path && !two_phase && CrossbarPhysics::adc_step(group_rows_, adc_levels_) == 1;
  merge_groups_ = exact_counts_ && groups_ > 1;
  ReadEnv env{cells_, phys_, ref_phys_, cfg_.arch, cfg_.slice, cfg_.sa_path, cfg_.index, cfg_.seed, groups_, adc_levels_,
              cfg_.device.variation.read_disturb_rate, cache_, op_counts_, op_aJ_};
  readout_ = make_readout(cfg_.arch.cell, env);
  return rounds;
}

ReadCounts ArrayEngine::compute(const ArrayOp& op) {
  op_counts_ = ReadCounts{};
  op_aJ_ = 0;
  compute_op(op);
  analog_units_ += to_units(op_aJ_);
  return op_counts_;
}

void ArrayEngine::compute_op(const ArrayOp& op) {
  const auto& s = cfg_.slice;
  cells_.start_image(op.image_key);
  const auto& thr = layer_->threshold[op.drop ? 1 : 0];
  // Column by column pays off when a column has positions to fill the kernel's 8 lanes (conv
  // layers); a dense layer's single position stays on the position loop.
  const bool columns = cfg_.accelerate && cfg_.sa_path && deterministic() && !cells_.two_phase() &&
                       cells_.aligned() && groups_ == 1 && cells_.words() > 0 && s.positions >= 8;
  if (columns) {
    sa_.decide_columns(op, s, thr, cells_.column(0), cells_.words(), op_counts_);
    return;
  }
  if (cfg_.accelerate && exact_counts_ && cells_.aligned() && cells_.words() > 0 && s.positions >= 8) {
    count_columns(op);
    return;
  }
  for (int p = s.position_begin; p < s.position_begin + s.positions; ++p) compute_position(op, p, thr);
}

void ArrayEngine::count_columns(const ArrayOp& op) {
  const auto& s = cfg_.slice;
  const std::size_t words = cells_.words(), cols = static_cast<std::size_t>(s.cols);
  const std::size_t stride = static_cast<std::size_t>(cfg_.arch.cols);
  const std::uint64_t tail = s.rows % 64 ? (std::uint64_t{1} << (s.rows % 64)) - 1 : ~std::uint64_t{0};
  en_.resize(words);
  std::uint64_t match = 0, wordlines = 0;
  // Position by position, every column at once (columns in SIMD lanes), straight into the
  // position's row of partial sums: the same counts as compute_position, without gathering the
  // drive word-major or writing the partials column by column across the whole buffer.
  for (int p = s.position_begin; p < s.position_begin + s.positions; ++p) {
    const std::size_t at = static_cast<std::size_t>(p) * op.words + static_cast<std::size_t>(s.row_begin) / 64;
    int on = 0;
    for (std::size_t w = 0; w < words; ++w) {
      en_[w] = op.active[at + w] & (w + 1 == words ? tail : ~std::uint64_t{0});
      on += __builtin_popcountll(en_[w]);
    }
    std::int32_t* out = op.partial + static_cast<std::size_t>(p) * stride;
    xnor_counts_columns(op.rows + at, en_.data(), cells_.cells_by_word(), words, cols, out);
    for (std::size_t c = 0; c < cols; ++c) match += static_cast<std::uint64_t>(out[c]);
    op.active_rows[p] = on;
    wordlines += static_cast<std::uint64_t>(on);
  }
  // What compute_position counts: per position groups_ reads, each converting and driving every
  // column's bitline, and groups_ - 1 additions per column in the tile.
  const std::uint64_t np = static_cast<std::uint64_t>(s.positions), g = static_cast<std::uint64_t>(groups_);
  ReadCounts& n = op_counts_;
  n.cell_match += match;
  n.cell_mismatch += wordlines * cols - match;
  n.reads += np * g;
  n.adc_conversions += np * g * cols;
  n.bitlines += np * g * cols;
  n.tile_adds += np * (g - 1) * cols;
  n.wordlines += wordlines;
}

void ArrayEngine::compute_position(const ArrayOp& op, int p, const std::vector<models::Threshold>& thr) {
  const auto& s = cfg_.slice;
  const int n = s.rows;
  const std::uint64_t* rows = op.rows + static_cast<std::size_t>(p) * op.words;
  const std::uint64_t* act = op.active + static_cast<std::size_t>(p) * op.words;
  std::uint64_t xl[64], al[64];  // this slice's rows of the position, word-aligned
  ReadRequest r;
  r.p = p;
  r.image_key = op.image_key;
  r.sample = op.sample;
  if (cells_.aligned()) {
    r.x = rows + s.row_begin / 64;
    r.a = act + s.row_begin / 64;
  } else {
    for (std::size_t w = 0; w < cells_.words(); ++w) xl[w] = al[w] = 0;
    for (int i = 0; i < n; ++i) {
      if (models::get_bit(rows, s.row_begin + i)) xl[i / 64] |= std::uint64_t{1} << (i % 64);
      if (models::get_bit(act, s.row_begin + i)) al[i / 64] |= std::uint64_t{1} << (i % 64);
    }
    r.x = xl;
    r.a = al;
  }
  int active = 0;
  std::fill(sum_.begin(), sum_.end(), 0);
  if (merge_groups_) {  // one pass over every row; the other groups' reads, conversions and adds counted
    r.lo = 0;
    r.hi = n;
    r.exact = true;
    active = readout_->read(r, read_);
    std::copy(read_.codes.begin(), read_.codes.end(), sum_.begin());
    const std::uint64_t more = static_cast<std::uint64_t>(groups_ - 1), cols = static_cast<std::uint64_t>(s.cols);
    op_counts_.reads += more;
    op_counts_.adc_conversions += more * cols;
    op_counts_.bitlines += more * cols;
    op_counts_.tile_adds += more * cols;
  }
  for (int lo = 0; !merge_groups_ && lo < n; lo += group_rows_, ++r.g) {
    r.lo = lo;
    r.hi = std::min(n, lo + group_rows_);
    active += readout_->read(r, read_);
    for (int c = 0; c < s.cols; ++c) sum_[static_cast<std::size_t>(c)] += read_.codes[static_cast<std::size_t>(c)];
    if (lo > 0) op_counts_.tile_adds += static_cast<std::uint64_t>(s.cols) * (cells_.two_phase() ? 2 : 1);
  }
  if (!cfg_.sa_path) {
    std::copy(sum_.begin(), sum_.end(), op.partial + static_cast<std::size_t>(p) * cfg_.arch.cols);
    op.active_rows[p] = active;
    return;
  }
  models::BitWriter out(op.out_bits, static_cast<std::size_t>(s.col_begin) * op.positions + p,
                        static_cast<std::size_t>(op.positions));
  const bool analog = cells_.analog();
  for (int c = 0; c < s.cols; ++c) {
    const std::size_t k = static_cast<std::size_t>(c);
    out.push(sa_.decide(thr[static_cast<std::size_t>(s.col_begin + c)], read_.codes[k], read_.sa_current[k], active,
                        analog, {op.image_key, op.sample, p, c}, op_counts_));
  }
}

}  // namespace bayescim::hw
