#include "sim/vcd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
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
  tmp_base_ = cfg_.vcd + ".tmp." + std::to_string(::getpid());  // SystemC appends ".vcd"
  tf_ = sc_core::sc_create_vcd_trace_file(tmp_base_.c_str());
  if (!tf_) throw InputError(cfg_.vcd + ": cannot create the VCD file");
  tf_->set_time_unit(1, sc_core::SC_PS);
}

VcdWriter::~VcdWriter() {
  if (!tf_) return;
  sc_core::sc_close_vcd_trace_file(tf_);
  std::error_code ec;
  fs::remove(tmp_base_ + ".vcd", ec);
}

void VcdWriter::commit() {
  if (!tf_) return;
  sc_core::sc_close_vcd_trace_file(tf_);
  tf_ = nullptr;
  const std::string tmp = tmp_base_ + ".vcd";
  std::ifstream in(tmp);
  std::stringstream ss;
  ss << in.rdbuf();
  // The waveforms first (synced, then renamed into place), then the save file that opens them.
  if (const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  fs::rename(tmp, cfg_.vcd);
  write_file_atomic(fs::path(cfg_.vcd).replace_extension(".gtkw").string(), gtkw_text(cfg_.vcd, ss.str()));
}

std::string gtkw_text(const std::string& vcd_path, const std::string& vcd_text) {
  // Collect "$var <type> <width> <id> <name> ... $end" with their enclosing scopes.
  std::vector<std::string> scope, names;
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
      std::string type, width, id, name;
      in >> type >> width >> id >> name;
      std::string full;
      for (const auto& s : scope) full += s + ".";
      names.push_back(full + name);
    } else if (tok == "$enddefinitions") {
      break;
    }
  }
  // Groups, in the order a reader follows one MC sample.
  const std::vector<std::pair<std::string, std::vector<std::string>>> groups = {
      {"controller", {"controller.image", "controller.sample", "controller.layer", "controller.phase"}},
      {"dropout", {"dropout.bits", "dropout.draws", "controller.dropout_mask", "controller.scale_select"}},
      {"wordlines", {"controller.wordlines"}},
      {"tiles busy", {".busy"}},
      {"sense amplifiers", {".sa_out"}},
      {"energy", {"energy_J"}}};
  std::ostringstream os;
  os << "[*] GTKWave save file written by bayescim\n";
  os << "[dumpfile] \"" << fs::absolute(vcd_path).string() << "\"\n";
  os << "[timestart] 0\n";
  for (const auto& [group, patterns] : groups) {
    std::vector<std::string> members;
    for (const auto& pat : patterns)
      for (const auto& n : names)
        if (n.find(pat) != std::string::npos && std::find(members.begin(), members.end(), n) == members.end())
          members.push_back(n);
    if (members.empty()) continue;
    os << "@800200\n-" << group << "\n";
    for (const auto& n : members) {
      const bool vector = n.find("wordlines") != std::string::npos || n.find("mask") != std::string::npos ||
                          n.find("bits") != std::string::npos || n.find("sa_out") != std::string::npos;
      os << (vector ? "@22\n" : "@28\n") << n << "\n";  // 22: hex, 28: binary/decimal
    }
    os << "@1000200\n-" << group << "\n";
  }
  return os.str();
}

}  // namespace bayescim::sim
