#include "models/reference_executor.h"

#include <algorithm>
#include <stdexcept>

namespace bayescim::models {

namespace {
int s_in_elems(const CompiledNetwork& n, std::size_t li) { return n.layers[li].src->input_elems(); }
// The ±1 activations layer li's residual shortcut reads, or null.
const std::uint64_t* s_shortcut(const CompiledNetwork& n, std::size_t li, const std::vector<std::vector<std::uint64_t>>& saved) {
  const Shortcut& sc = n.layers[li].src->shortcut;
  return sc.present() ? saved[static_cast<std::size_t>(sc.from)].data() : nullptr;
}
}  // namespace

ReferenceExecutor::ReferenceExecutor(const CompiledNetwork& net) : net_(net) {
  const std::size_t w = net.max_words();
  a_.assign(w, 0);
  b_.assign(w, 0);
  pre_.assign(w, 0);
  x_.assign(w, 0);
  act_.assign(w, 0);
  saved_.resize(net.layers.size());
}

void ReferenceExecutor::forward(const std::uint8_t* pixels, const std::vector<std::uint8_t>& drop_bits,
                                float* logits) {
  std::size_t next = 0;
  net_.fill_masks(scratch_, [&](std::size_t) {
    if (next >= drop_bits.size()) throw std::invalid_argument("too few dropout bits");
    return drop_bits[next++] != 0;
  });
  forward(pixels, scratch_, logits);
}

void ReferenceExecutor::forward(const std::uint8_t* pixels, const SampleMasks& masks, float* logits) {
  net_.encode_input(pixels, a_.data());
  std::uint64_t* x = a_.data();
  std::uint64_t* y = b_.data();
  for (std::size_t li = 0; li < net_.layers.size(); ++li) {
    const auto& l = net_.layers[li];
    const BinaryLayer& s = *l.src;
    if (net_.shortcut_source[li]) saved_[li].assign(x, x + words_for(s_in_elems(net_, li)));
    const std::uint64_t* sc = s_shortcut(net_, li, saved_);
    const std::uint64_t* mask = l.dropout ? masks.layer.at(li).data() : nullptr;
    const bool drop = l.dropout && l.dropout_kind == DropoutKind::Scale && masks.bit(li, 0);
    const int positions = s.positions();
    std::uint64_t* dst = s.pool ? pre_.data() : y;
    if (l.sign) std::fill(dst, dst + words_for(l.out * positions), 0);
    pre_a_.assign(static_cast<std::size_t>(l.out), 0);
    for (int p = 0; p < positions; ++p) {
      // Bit planes (a k-bit first layer): a = sum over planes b of 2^b (2 m_b - active_b).
      for (int b = 0; b < l.planes; ++b) {
        l.rows_at(p * l.planes + b, x, mask, x_.data(), act_.data());
        int active = 0;
        for (std::size_t w = 0; w < l.words; ++w) active += __builtin_popcountll(act_[w]);
        for (int o = 0; o < l.out; ++o) {
          int m = 0;
          const std::uint64_t* col = l.column(o);
          for (std::size_t w = 0; w < l.words; ++w) m += __builtin_popcountll(~(x_[w] ^ col[w]) & act_[w]);
          const int plane_a = 2 * m - active;
          pre_a_[static_cast<std::size_t>(o)] = b == 0 ? plane_a : pre_a_[static_cast<std::size_t>(o)] + plane_a * (1 << b);
        }
      }
      for (int o = 0; o < l.out; ++o) {
        const int a = pre_a_[static_cast<std::size_t>(o)];
        if (l.sign) {
          const int level = sc ? l.shortcut_level(sc, o, p) : 0;
          if (l.thr(o, level, drop).fires(a)) set_bit(dst, o * positions + p, true);
        } else {
          logits[o] = static_cast<float>(l.preactivation(o, a, drop));
        }
      }
    }
    if (!l.sign) break;
    if (s.pool) or_pool(pre_.data(), l.out, s.h_out, s.w_out, s.pool, y);
    std::swap(x, y);
  }
}

}  // namespace bayescim::models
