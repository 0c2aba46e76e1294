#include "sim/vcd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#include "sim/atomic_file.h"
#include "sim/errors.h"

namespace bayescim::sim {
namespace fs = std::filesystem;

VcdWriter::VcdWriter(const TraceConfig& cfg) : cfg_(cfg) {
  if (cfg_.vcd.empty()) return;
  const fs::path dir = fs::path(cfg_.vcd).parent_path();
  if (!dir.empty()) fs::create_directories(dir);
}

void VcdWriter::commit() {
  if (cfg_.vcd.empty()) return;
  const std::string text = rec_.vcd();
  write_file_atomic(cfg_.vcd, text);
  write_file_atomic(fs::path(cfg_.vcd).replace_extension(".gtkw").string(), gtkw_text(cfg_.vcd, text));
}

namespace {

// GTKWave trace flags (the "@hex" lines of a save file; bit positions from GTKWave's TraceEntFlagBits).
constexpr unsigned kHex = 1u << 1, kDec = 1u << 2, kBin = 1u << 3, kRjustify = 1u << 5, kBlank = 1u << 9,
                   kSigned = 1u << 10, kAnalogStep = 1u << 15, kAnalogStretch = 1u << 17, kReal = 1u << 18,
                   kGroupBegin = 1u << 23, kGroupEnd = 1u << 24;

struct VcdVar {
  std::string name;  // as GTKWave names it: scope.path.reference[msb:lsb]
  std::string type;  // wire or real
  int width = 1;
};

bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// How a signal is shown: energies as analog steps, bit vectors (rows, masks, SA outputs) in hex,
// counters in decimal (image, sample and layer are -1 when idle: signed), single bits in binary.
unsigned display_flags(const VcdVar& v) {
  if (v.type == "real") return kReal | kAnalogStep | kRjustify;
  if (v.width == 1) return kBin | kRjustify;
  if (has(v.name, "wordlines") || has(v.name, "mask") || has(v.name, ".bits") || has(v.name, "sa_out"))
    return kHex | kRjustify;
  return kDec | kSigned | kRjustify;
}

}  // namespace

std::string gtkw_text(const std::string& vcd_path, const std::string& vcd_text) {
  // Collect "$var <type> <width> <id> <reference> [<range>] $end" with their enclosing scopes, and
  // the first and last time stamps after time 0 (the traced window).
  std::vector<std::string> scope;
  std::vector<VcdVar> vars;
  std::istringstream in(vcd_text);
  std::string tok;
  while (in >> tok) {
    if (tok == "$scope") {
      std::string kind, name;
      in >> kind >> name;
      scope.push_back(name);
    } else if (tok == "$upscope") {
      if (!scope.empty()) scope.pop_back();
    } else if (tok == "$var") {
      VcdVar v;
      std::string id, ref, range;
      in >> v.type >> v.width >> id >> ref >> range;
      if (range != "$end") {  // GTKWave appends a vector's range to its name, without a space
        ref += range;
        in >> tok;  // $end
      }
      for (const auto& s : scope) v.name += s + ".";
      v.name += ref;
      vars.push_back(v);
    } else if (tok == "$enddefinitions") {
      break;
    }
  }
  // A time stamp counts when a value changes at it (the trace file ends with a bare stamp at the
  // end of the simulation, far after the window).
  std::uint64_t first = 0, last = 0, now = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '$') continue;
    if (line[0] == '#') {
      now = std::stoull(line.substr(1));
    } else if (now > 0) {
      if (first == 0) first = now;
      last = now;
    }
  }
  // Groups, in the order a reader follows one MC sample; what no pattern takes goes in "other".
  const std::vector<std::pair<std::string, std::vector<std::string>>> groups = {
      {"controller", {"controller.image", "controller.sample", "controller.layer", "controller.phase"}},
      {"dropout", {"dropout.bits", "dropout.draws", "controller.dropout_mask", "controller.scale_select"}},
      {"wordlines", {"controller.wordlines"}},
      {"tiles busy", {".busy"}},
      {"sense amplifiers", {".sa_out"}},
      {"resources", {"resources."}},
      {"energy", {"energy_J"}},
      {"other", {""}}};
  // The view opens on the traced window: zoom z shows 2^-z time units per pixel (GTKWave's zoom
  // base 2) over a wave pane of kWavePx pixels (the window width less the signal pane).
  constexpr int kWidth = 1400, kHeight = 800, kSignalsPx = 320, kWavePx = kWidth - kSignalsPx - 80;
  const std::uint64_t span = last > first ? last - first : 1;
  const double zoom = -std::log2(static_cast<double>(span) * 1.05 / kWavePx);
  std::ostringstream os;
  os << "[*] GTKWave save file written by bayescim\n";
  os << "[dumpfile] \"" << fs::absolute(vcd_path).string() << "\"\n";
  os << "[size] " << kWidth << " " << kHeight << "\n";
  os << "[signals_width] " << kSignalsPx << "\n";
  os << "[timestart] " << first << "\n";
  char buf[64];
  std::snprintf(buf, sizeof buf, "*%.6f %llu", zoom, static_cast<unsigned long long>(first));
  os << buf << "\n";
  std::vector<bool> taken(vars.size(), false);
  for (const auto& [group, patterns] : groups) {
    std::vector<std::size_t> members;
    for (const auto& pat : patterns)
      for (std::size_t i = 0; i < vars.size(); ++i)
        if (!taken[i] && has(vars[i].name, pat.c_str())) {
          taken[i] = true;
          members.push_back(i);
        }
    if (members.empty()) continue;
    os << "@" << std::hex << (kGroupBegin | kBlank) << std::dec << "\n-" << group << "\n";
    for (const std::size_t i : members) {
      const unsigned f = display_flags(vars[i]);
      os << "@" << std::hex << f << std::dec << "\n" << vars[i].name << "\n";
      if (f & kAnalogStep) os << "@" << std::hex << kAnalogStretch << std::dec << "\n-\n-\n";  // two rows taller
    }
    os << "@" << std::hex << (kGroupEnd | kBlank) << std::dec << "\n-" << group << "\n";
  }
  return os.str();
}

}  // namespace bayescim::sim
