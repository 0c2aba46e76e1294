#include "hw/engine/digital_periphery.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace bayescim::hw {

DigitalCounts& DigitalCounts::operator+=(const DigitalCounts& o) {
  adds += o.adds;
  neurons += o.neurons;
  buffer_bits += o.buffer_bits;
  pool_ops += o.pool_ops;
  shortcut_bits += o.shortcut_bits;
  shortcut_adds += o.shortcut_adds;
  return *this;
}

DigitalCounts operator-(DigitalCounts a, const DigitalCounts& b) {
  a.adds -= b.adds;
  a.neurons -= b.neurons;
  a.buffer_bits -= b.buffer_bits;
  a.pool_ops -= b.pool_ops;
  a.shortcut_bits -= b.shortcut_bits;
  a.shortcut_adds -= b.shortcut_adds;
  return a;
}

bool operator==(const DigitalCounts& a, const DigitalCounts& b) {
  return a.adds == b.adds && a.neurons == b.neurons && a.buffer_bits == b.buffer_bits && a.pool_ops == b.pool_ops &&
         a.shortcut_bits == b.shortcut_bits && a.shortcut_adds == b.shortcut_adds;
}

DigitalPeriphery::DigitalPeriphery(const models::CompiledNetwork& net, const Mapping& mapping, int array_cols)
    : net_(net), mapping_(mapping), cols_(static_cast<std::size_t>(array_cols)) {
  std::size_t partial = 0, counts = 0;
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& lm = mapping.layers[li];
    const auto& l = net.layers[li];
    const std::size_t reads = static_cast<std::size_t>(l.reads());
    partial = std::max(partial, static_cast<std::size_t>(lm.row_tiles) * reads * cols_);
    counts = std::max(counts, static_cast<std::size_t>(lm.row_tiles) * reads);
    std::uint64_t cycles = 0;
    if (!lm.sa_path) {  // per read the adder tree; per position the shift-adds of its planes and BN
      int depth = 0;
      while ((1 << depth) < lm.row_tiles) ++depth;
      const std::uint64_t positions = static_cast<std::uint64_t>(l.src->positions());
      cycles = static_cast<std::uint64_t>(depth) * reads + static_cast<std::uint64_t>(l.planes) * positions;
      if (const auto& sc = l.src->shortcut; sc.present()) {
        int pool_depth = 0;
        while ((1 << pool_depth) < sc.pool * sc.pool) ++pool_depth;
        cycles += static_cast<std::uint64_t>(pool_depth + 1) * positions;
      }
    }
    cycles_.push_back(cycles);
  }
  const std::size_t words = net.max_words();
  buf_a_.assign(words, 0);
  buf_b_.assign(words, 0);
  buf_pre_.assign(words, 0);
  x_ = buf_a_.data();
  y_ = buf_b_.data();
  partial_.assign(partial, 0);
  active_rows_.assign(counts, 0);
  held_.assign(net.layers.size(), false);
  shortcut_buf_.resize(net.layers.size());
  for (std::size_t li = 0; li < net.layers.size(); ++li) {
    const auto& sc = net.layers[li].src->shortcut;
    if (sc.present() && static_cast<std::size_t>(sc.from) < li) {
      held_[static_cast<std::size_t>(sc.from)] = true;
      shortcut_buf_[static_cast<std::size_t>(sc.from)].assign(models::words_for(sc.c * sc.h * sc.w), 0);
    }
  }
}

void DigitalPeriphery::begin_layer(std::size_t li) {
  if (!held_[li]) return;
  auto& buf = shortcut_buf_[li];
  std::copy(x_, x_ + buf.size(), buf.begin());
  counts_.shortcut_bits += static_cast<std::uint64_t>(net_.layers[li].src->input_elems());
}

const std::uint64_t* DigitalPeriphery::shortcut(std::size_t li) const {
  const auto& sc = net_.layers[li].src->shortcut;
  if (!sc.present()) return nullptr;
  return static_cast<std::size_t>(sc.from) == li ? x_ : shortcut_buf_[static_cast<std::size_t>(sc.from)].data();
}

void DigitalPeriphery::load_input(const std::uint8_t* pixels) {
  x_ = buf_a_.data();
  y_ = buf_b_.data();
  // The T samples of an image load the same pixels: the encoding (k bit planes of a k-bit input)
  // is kept and copied for a repeat, compared on the pixels themselves (not their address).
  const std::size_t n = static_cast<std::size_t>(net_.net->input_size);
  const std::size_t words = models::words_for(net_.input_bits());
  if (enc_.size() != words || last_pixels_.size() != n || std::memcmp(last_pixels_.data(), pixels, n) != 0) {
    enc_.assign(words, 0);
    net_.encode_input(pixels, enc_.data());
    last_pixels_.assign(pixels, pixels + n);
  }
  std::copy(enc_.begin(), enc_.end(), x_);
  counts_.buffer_bits += static_cast<std::uint64_t>(net_.input_bits());
}

std::uint64_t* DigitalPeriphery::layer_output(std::size_t li) {
  return net_.layers[li].src->pool ? buf_pre_.data() : y_;
}

void DigitalPeriphery::count_array(const ArrayAssignment& a) {
  counts_.buffer_bits += static_cast<std::uint64_t>(a.rows) * static_cast<std::uint64_t>(a.positions);
}

void DigitalPeriphery::reduce(std::size_t li, int ct, bool drop, float* logits) {
  const auto& l = net_.layers[li];
  const auto& lm = mapping_.layers[li];
  const auto& first = mapping_.arrays[static_cast<std::size_t>(lm.arrays[static_cast<std::size_t>(ct) * lm.row_tiles])];
  const int positions = l.src->positions();
  const std::size_t reads = static_cast<std::size_t>(l.reads());
  std::uint64_t* dst = layer_output(li);
  const std::uint64_t* sc = shortcut(li);
  // Position p's pre-activation of column c: per read, the row tiles' 2m - N added; a k-bit first
  // layer's planes b then shifted by b and added (read p * planes + b holds plane b). Computed for
  // every position and column first, columns innermost (contiguous in partial_, so the loop
  // vectorises), then read out column by column.
  const std::size_t ncols = static_cast<std::size_t>(first.cols);
  pre_.assign(static_cast<std::size_t>(positions) * ncols, 0);
  for (int p = 0; p < positions; ++p) {
    int* pre = pre_.data() + static_cast<std::size_t>(p) * ncols;
    for (int b = 0; b < l.planes; ++b) {
      const std::size_t r = static_cast<std::size_t>(p) * static_cast<std::size_t>(l.planes) + static_cast<std::size_t>(b);
      const int weight = 1 << b;
      for (int rt = 0; rt < lm.row_tiles; ++rt) {
        const std::size_t at = static_cast<std::size_t>(rt) * reads + r;
        const int* m = partial_.data() + at * cols_;
        const int n = active_rows_[at];
        for (std::size_t c = 0; c < ncols; ++c) pre[c] += (2 * m[c] - n) * weight;
      }
    }
  }
  auto pre_at = [&](int p, int c) { return pre_[static_cast<std::size_t>(p) * ncols + static_cast<std::size_t>(c)]; };
  if (l.sign && sc) {
    // A residual join, column by column, each position with the threshold of its shortcut level:
    // output o's bits at consecutive positions are consecutive bits of dst, so they are gathered
    // into whole words (the same bits as position by position).
    for (int c = 0; c < first.cols; ++c) {
      const int o = first.col_begin + c;
      const std::size_t base = static_cast<std::size_t>(o) * static_cast<std::size_t>(positions);
      std::uint64_t word = 0;
      for (int p = 0; p < positions; ++p) {
        const models::Threshold& t = l.thr(o, l.shortcut_level(sc, o, p), drop);
        word |= static_cast<std::uint64_t>(t.fires(pre_at(p, c))) << (p % 64);
        if (p % 64 == 63 || p + 1 == positions) {
          models::write_bits_at(dst, base + static_cast<std::size_t>(p - p % 64), p % 64 + 1, word);
          word = 0;
        }
      }
    }
  } else if (l.sign) {
    const auto& thr = l.threshold[drop ? 1 : 0];  // one level: index o
    // Blocks of 64 positions: each column's decisions at consecutive positions are consecutive bits
    // of dst, so they are gathered into one word per column (the same bits as position by
    // position); within a position the columns are decided together, without a branch on the
    // threshold's mode (Threshold::range), so the loop vectorises.
    lo_.resize(ncols);
    hi_.resize(ncols);
    bits_.resize(ncols);
    for (std::size_t c = 0; c < ncols; ++c) {
      const models::Threshold::Range r = thr[static_cast<std::size_t>(first.col_begin) + c].range();
      lo_[c] = r.lo;
      hi_[c] = r.hi;
    }
    for (int p0 = 0; p0 < positions; p0 += 64) {
      const int n = std::min(64, positions - p0);
      std::fill(bits_.begin(), bits_.end(), 0);
      for (int i = 0; i < n; ++i) {
        const int* pre = pre_.data() + static_cast<std::size_t>(p0 + i) * ncols;
        for (std::size_t c = 0; c < ncols; ++c)
          bits_[c] |= static_cast<std::uint64_t>((pre[c] >= lo_[c]) & (pre[c] <= hi_[c])) << i;
      }
      for (std::size_t c = 0; c < ncols; ++c) {
        const std::size_t o = static_cast<std::size_t>(first.col_begin) + c;
        models::write_bits_at(dst, o * static_cast<std::size_t>(positions) + static_cast<std::size_t>(p0), n, bits_[c]);
      }
    }
  } else {
    for (int p = 0; p < positions; ++p)
      for (int c = 0; c < first.cols; ++c)
        logits[first.col_begin + c] = static_cast<float>(l.preactivation(first.col_begin + c, pre_at(p, c), drop));
  }
  const std::uint64_t cols = static_cast<std::uint64_t>(first.cols);
  counts_.adds += static_cast<std::uint64_t>(lm.row_tiles - 1) * cols * reads +
                  static_cast<std::uint64_t>(l.planes - 1) * cols * static_cast<std::uint64_t>(positions);
  counts_.neurons += cols * static_cast<std::uint64_t>(positions);
}

void DigitalPeriphery::end_layer(std::size_t li) {
  const auto& l = net_.layers[li];
  if (!l.sign) return;
  const auto& s = *l.src;
  if (s.pool) {
    models::or_pool(buf_pre_.data(), l.out, s.h_out, s.w_out, s.pool, y_);
    counts_.pool_ops += static_cast<std::uint64_t>(l.out) * s.positions();
  }
  counts_.buffer_bits += static_cast<std::uint64_t>(s.output_elems());
  if (s.shortcut.present()) {  // the window sums (once per source channel), then one add per output
    const std::uint64_t positions = static_cast<std::uint64_t>(s.positions());
    const std::uint64_t window = static_cast<std::uint64_t>(s.shortcut.pool) * static_cast<std::uint64_t>(s.shortcut.pool);
    counts_.shortcut_adds += (window - 1) * static_cast<std::uint64_t>(s.shortcut.c) * positions +
                             static_cast<std::uint64_t>(l.out) * positions;
  }
  std::swap(x_, y_);
}

void DigitalPeriphery::repeat_layer(std::size_t li, const DigitalCounts& c) {
  counts_ += c;
  if (net_.layers[li].sign) std::swap(x_, y_);
}

}  // namespace bayescim::hw
