#include "sim/config_tree.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bayescim::sim {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> parts;
  std::stringstream ss(p);
  std::string item;
  while (std::getline(ss, item, '.')) parts.push_back(item);
  return parts;
}

// Every mapping key must be a plain name, and appear once: a list or mapping used as a key
// (`? [a, b]: 1`) used to escape as a YAML conversion error (an internal error; found by
// fuzz_config), and a repeated key silently lost one of its values.
void check_keys(const YAML::Node& n, const std::string& where) {
  if (n.IsMap()) {
    std::map<std::string, int> seen;
    for (const auto& kv : n) {
      const int line = kv.first.Mark().line + 1;
      const std::string at = where + (line > 0 ? ":" + std::to_string(line) : "");
      if (!kv.first.IsScalar())
        throw InputError(at + ": a key is a " + (kv.first.IsSequence() ? "list" : "mapping or null") +
                         ", expected a plain key name (name: value)");
      const auto [it, fresh] = seen.emplace(kv.first.Scalar(), line);
      if (!fresh)
        throw InputError(at + ": key '" + kv.first.Scalar() + "' appears twice in the same section (first at line " +
                         std::to_string(it->second) + "), expected each key once");
      check_keys(kv.second, where);
    }
  } else if (n.IsSequence()) {
    for (const auto& e : n) check_keys(e, where);
  }
}

YAML::Node parse_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path + ": file does not exist");
  if (fs::is_directory(path, ec)) throw InputError(path + ": is a directory, expected a YAML file");
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.find('\0') != std::string::npos) throw InputError(path + ": not a text file (binary data), expected YAML");
  // A cut-off file often still parses ("r_p_ohm: 3000" cut to "r_p_ohm: 30"), and later keys
  // would silently take their defaults. Every editor ends a text file with a newline; a file
  // that does not is refused as probably truncated.
  if (!text.empty() && text.back() != '\n') {
    const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
    throw InputError(path + ":" + std::to_string(lines) +
                     ": the file does not end with a newline: it looks truncated (expected a complete YAML "
                     "file; if it is complete, end it with a newline)");
  }
  YAML::Node n;
  try {
    n = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg +
                     " (expected a YAML mapping of keys)");
  }
  if (!n.IsDefined() || n.IsNull()) throw InputError(path + ": file is empty, expected a YAML mapping");
  if (!n.IsMap()) throw InputError(path + ":" + std::to_string(n.Mark().line + 1) + ": expected a YAML mapping at top level");
  check_keys(n, path);
  return n;
}

// Walks (and, if create, builds) the dotted path; returns an undefined node when absent.
YAML::Node walk(YAML::Node root, const std::vector<std::string>& parts, std::size_t count) {
  YAML::Node cur = root;
  for (std::size_t i = 0; i < count; ++i) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& ccur = cur;
    YAML::Node next = ccur[parts[i]];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(next);
  }
  return cur;
}

}  // namespace

ConfigTree ConfigTree::load(const std::string& path) {
  ConfigTree t;
  t.path_ = path;
  t.root_ = parse_file(path);
  t.file_of_[""] = path;
  return t;
}

const std::string& ConfigTree::file_for(const std::string& key_path) const {
  // longest registered prefix
  const std::string* best = &file_of_.at("");
  std::size_t best_len = 0;
  for (const auto& [prefix, file] : file_of_) {
    if (prefix.empty() || prefix.size() < best_len) continue;
    if (key_path == prefix || key_path.rfind(prefix + ".", 0) == 0) {
      best = &file;
      best_len = prefix.size();
    }
  }
  return *best;
}

std::string ConfigTree::where(const std::string& key_path) const {
  // An override of the key or of any enclosing key wins.
  for (std::string p = key_path;;) {
    auto it = override_.find(p);
    if (it != override_.end()) return it->second;
    const auto dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p = p.substr(0, dot);
  }
  const auto parts = split_path(key_path);
  for (std::size_t n = parts.size(); n > 0; --n) {
    YAML::Node node = walk(root_, parts, n);
    if (!node.IsDefined()) continue;
    int line = node.Mark().line;
    if (node.IsNull()) {  // `key:` with nothing after it: yaml-cpp marks the next token; use the key's line
      const YAML::Node parent = walk(root_, parts, n - 1);
      if (parent.IsMap())
        for (const auto& kv : parent)
          if (kv.first.IsScalar() && kv.first.Scalar() == parts[n - 1]) line = kv.first.Mark().line;
    }
    if (line >= 0) return file_for(key_path) + ":" + std::to_string(line + 1);
  }
  return file_for(key_path);
}

std::string ConfigTree::base_dir(const std::string& key_path) const {
  for (std::string p = key_path;;) {
    if (override_.count(p)) return fs::current_path().string();
    const auto dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p = p.substr(0, dot);
  }
  return fs::path(file_for(key_path)).parent_path().string();
}

void ConfigTree::set(const std::string& key_path, const std::string& value, const std::string& origin) {
  const auto parts = split_path(key_path);
  bool malformed = parts.empty() || key_path.back() == '.';  // split_path drops a trailing empty part
  for (const auto& p : parts) malformed = malformed || p.empty();
  if (malformed) throw InputError(origin + ": malformed key '" + key_path + "' (expected a.b.c=value)");
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw InputError(origin + ": value '" + value + "' is not valid YAML: " + e.msg);
  }
  if (!parsed.IsDefined()) parsed = YAML::Node(YAML::NodeType::Null);
  check_keys(parsed, origin);
  YAML::Node cur = root_;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const YAML::Node& ccur = cur;
    const YAML::Node next = ccur[parts[i]];  // invalid (not resettable) when absent
    if (next.IsDefined() && !next.IsNull() && !next.IsMap()) {
      std::string prefix;
      for (std::size_t k = 0; k <= i; ++k) prefix += (k ? "." : "") + parts[k];
      throw InputError(origin + ": '" + prefix + "' is not a section, cannot set '" + key_path + "'");
    }
    if (!next.IsDefined() || next.IsNull()) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node child = cur[parts[i]];
    cur.reset(child);
  }
  cur[parts.back()] = parsed;
  override_[key_path] = origin;
}

void ConfigTree::apply_assignment(const std::string& assignment) {
  const std::string origin = "--set " + assignment;
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(origin + ": expected key=value, e.g. --set mc.samples=10");
  set(assignment.substr(0, eq), assignment.substr(eq + 1), origin);
}

std::string ConfigTree::include(const std::string& key_path) {
  const auto parts = split_path(key_path);
  YAML::Node node = walk(root_, parts, parts.size());
  if (!node.IsDefined() || !node.IsScalar()) return "";
  const std::string rel = node.as<std::string>();
  fs::path p(rel);
  if (p.is_relative()) p = fs::path(base_dir(key_path)) / p;
  const std::string file = p.lexically_normal().string();
  YAML::Node loaded;
  try {
    loaded = parse_file(file);
  } catch (const InputError& e) {
    throw InputError(where(key_path) + ": key '" + key_path + "' names a file that cannot be used: " + e.what());
  }
  YAML::Node parent = walk(root_, parts, parts.size() - 1);
  parent[parts.back()] = loaded;
  file_of_[key_path] = file;
  // The included tree's lines belong to `file`, not to the override that named it.
  for (auto it = override_.begin(); it != override_.end();)
    it = it->first == key_path ? override_.erase(it) : std::next(it);
  return file;
}

// ---------------------------------------------------------------------------------------------

Section::Section(const ConfigTree& tree, std::string path, YAML::Node node)
    : tree_(tree), path_(std::move(path)), node_(node) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    throw InputError(tree_.where(path_) + ": key '" + path_ + "': expected a mapping (a section of keys)");
}

bool Section::has(const std::string& key) const {
  return node_.IsDefined() && node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
}

YAML::Node Section::get(const std::string& key) {
  allowed_.insert(key);
  if (!node_.IsDefined() || node_.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& cnode = node_;
  YAML::Node n = cnode[key];
  if (n.IsDefined() && n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return n;
}

std::string Section::scalar_text(const YAML::Node& n) const {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "nothing";
}

void Section::fail(const std::string& key, const std::string& expected, const std::string& got) const {
  const std::string kp = key_path(key);
  throw InputError(tree_.where(kp) + ": key '" + kp + "': expected " + expected + (got.empty() ? "" : ", got " + got));
}

static std::string fmt_num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

double Section::number(const std::string& key, std::optional<double> def, double lo, double hi,
                       const std::string& unit) {
  const std::string range = "a number in [" + fmt_num(lo) + ", " + fmt_num(hi) + "]" + (unit.empty() ? "" : " " + unit);
  YAML::Node n = get(key);
  if (!n.IsDefined()) {
    if (!def) fail(key, range + " (required key is missing)");
    return *def;
  }
  if (!n.IsScalar()) fail(key, range, scalar_text(n));
  const std::string& s = n.Scalar();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') fail(key, range, scalar_text(n));
  if (!std::isfinite(v)) fail(key, range, scalar_text(n) + " (not finite)");
  if (v < lo || v > hi) fail(key, range, scalar_text(n));
  return v;
}

double Section::positive(const std::string& key, std::optional<double> def, const std::string& unit) {
  const double v = number(key, def, 0.0, 1e30, unit);
  if (!(v > 0)) fail(key, "a number > 0" + (unit.empty() ? "" : " " + unit), "'" + fmt_num(v) + "'");
  return v;
}

std::int64_t Section::integer(const std::string& key, std::optional<std::int64_t> def, std::int64_t lo,
                              std::int64_t hi) {
  const std::string range = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  YAML::Node n = get(key);
  if (!n.IsDefined()) {
    if (!def) fail(key, range + " (required key is missing)");
    return *def;
  }
  if (!n.IsScalar()) fail(key, range, scalar_text(n));
  const std::string& s = n.Scalar();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) fail(key, range, scalar_text(n));
  if (v < lo || v > hi) fail(key, range, scalar_text(n));
  return v;
}

bool Section::boolean(const std::string& key, std::optional<bool> def) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) {
    if (!def) fail(key, "true or false (required key is missing)");
    return *def;
  }
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  fail(key, "true or false", scalar_text(n));
}

std::string Section::string(const std::string& key, std::optional<std::string> def) {
  YAML::Node n = get(key);
  if (!n.IsDefined()) {
    if (!def) fail(key, "a string (required key is missing)");
    return *def;
  }
  if (!n.IsScalar()) fail(key, "a string", scalar_text(n));
  return n.Scalar();
}

std::string Section::choice(const std::string& key, std::optional<std::string> def,
                            const std::vector<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  YAML::Node n = get(key);
  if (!n.IsDefined()) {
    if (!def) fail(key, "one of: " + list + " (required key is missing)");
    return *def;
  }
  if (!n.IsScalar()) fail(key, "one of: " + list, scalar_text(n));
  for (const auto& a : allowed)
    if (n.Scalar() == a) return a;
  fail(key, "one of: " + list, scalar_text(n));
}

std::vector<std::string> Section::string_list(const std::string& key) {
  YAML::Node n = get(key);
  std::vector<std::string> out;
  if (!n.IsDefined()) return out;
  if (n.IsScalar()) {  // "a,b,c" (convenient on the command line)
    std::stringstream ss(n.Scalar());
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
    return out;
  }
  if (!n.IsSequence()) fail(key, "a list of strings", scalar_text(n));
  for (const auto& e : n) {
    if (!e.IsScalar()) fail(key, "a list of strings", "an element that is " + scalar_text(e));
    out.push_back(e.Scalar());
  }
  return out;
}

std::string Section::file_path(const std::string& key, std::optional<std::string> def) {
  const std::string s = string(key, std::move(def));
  if (s.empty()) return s;
  fs::path p(s);
  if (p.is_relative()) p = fs::path(tree_.base_dir(key_path(key))) / p;
  return p.lexically_normal().string();
}

Section Section::child(const std::string& key, bool required) {
  YAML::Node n = get(key);
  // A required section written with no keys (`model:`) is read as empty, so the error names the
  // first required key inside it rather than the section.
  const bool written = node_.IsDefined() && node_.IsMap() && static_cast<const YAML::Node&>(node_)[key].IsDefined();
  if (!n.IsDefined() && required && !written) fail(key, "a section (required key is missing)");
  Section s(tree_, key_path(key), n);
  return s;
}

void Section::finish() const {
  if (!node_.IsDefined() || !node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string k = kv.first.as<std::string>();
    if (allowed_.count(k)) continue;
    std::string list;
    for (const auto& a : allowed_) list += (list.empty() ? "" : ", ") + a;
    const std::string kp = key_path(k);
    throw InputError(tree_.where(kp) + ": unknown key '" + kp + "' (allowed in '" + (path_.empty() ? "<top>" : path_) +
                     "': " + list + ")");
  }
}

}  // namespace bayescim::sim
