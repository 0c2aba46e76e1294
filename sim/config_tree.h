// The raw configuration: YAML documents merged into one tree, with the origin (file and line, or
// the --set argument) of every key, and a typed reader that validates as it converts.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/errors.h"

namespace bayescim::sim {

class ConfigTree {
 public:
  // Parses a YAML file; syntax errors name the file and line.
  static ConfigTree load(const std::string& path);

  // Replaces the value at a dotted key path (creating maps as needed) with `value` parsed as YAML.
  // `origin` describes where it came from, e.g. "--set mc.samples=5".
  void set(const std::string& key_path, const std::string& value, const std::string& origin);
  // Parses "a.b.c=value" and calls set(); throws InputError on a malformed assignment.
  void apply_assignment(const std::string& assignment);
  // If the value at key_path is a string, loads that YAML file (relative to the file that named
  // it) and puts its mapping there. Returns the file loaded, or "" when the value was inline.
  std::string include(const std::string& key_path);

  YAML::Node root() const { return root_; }
  const std::string& path() const { return path_; }
  // "file:line" (or the --set origin) of a key path, for error messages.
  std::string where(const std::string& key_path) const;
  // Directory relative paths at key_path are resolved against.
  std::string base_dir(const std::string& key_path) const;

 private:
  YAML::Node root_;
  std::string path_;
  std::map<std::string, std::string> file_of_;    // key-path prefix -> file it was loaded from
  std::map<std::string, std::string> override_;  // key path -> --set origin
  const std::string& file_for(const std::string& key_path) const;
};

// Reads and validates one mapping of the tree. Every key must be consumed: finish() reports any
// key that was present but never read, with the allowed keys listed.
class Section {
 public:
  Section(const ConfigTree& tree, std::string path, YAML::Node node);

  bool has(const std::string& key) const;
  // Declares a key as known without reading it (for keys read conditionally).
  void allow(const std::string& key) { allowed_.insert(key); }
  double number(const std::string& key, std::optional<double> def, double lo, double hi,
                const std::string& unit = "");
  double positive(const std::string& key, std::optional<double> def, const std::string& unit = "");
  std::int64_t integer(const std::string& key, std::optional<std::int64_t> def, std::int64_t lo, std::int64_t hi);
  bool boolean(const std::string& key, std::optional<bool> def);
  std::string string(const std::string& key, std::optional<std::string> def);
  std::string choice(const std::string& key, std::optional<std::string> def, const std::vector<std::string>& allowed);
  std::vector<std::string> string_list(const std::string& key);
  // A path value, resolved against the directory of the file that set it ("" stays "").
  std::string file_path(const std::string& key, std::optional<std::string> def);
  Section child(const std::string& key, bool required);
  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string& key, const std::string& expected, const std::string& got = "") const;
  void finish() const;
  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  const YAML::Node& node() const { return node_; }

 private:
  YAML::Node get(const std::string& key);
  std::string scalar_text(const YAML::Node& n) const;
  const ConfigTree& tree_;
  std::string path_;
  YAML::Node node_;
  std::set<std::string> allowed_;
};

}  // namespace bayescim::sim
