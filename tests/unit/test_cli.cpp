// The command line (sim/cli.cpp): what each option sets, the one-line usage errors, and help and
// completion generated from the same option descriptions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/cli.h"
#include "sim/resources.h"

namespace bayescim::sim {
namespace {

Cli parse(std::vector<std::string> args) { return parse_command_line(args); }

std::string usage_error(std::vector<std::string> args) {
  try {
    parse_command_line(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Cli, RunOptionsReachTheirFields) {
  const Cli c = parse({"run", "x.yaml", "--set", "mc.samples=5", "--limit", "7", "--jobs", "3", "--out", "o",
                       "--vcd", "v.vcd", "--set", "seed=2", "--quiet", "--samples-csv", "--log-level", "debug",
                       "--max-memory", "1G", "--plots"});
  EXPECT_FALSE(c.print_only);
  EXPECT_EQ(c.command, Command::Run);
  EXPECT_EQ(c.config, "x.yaml");
  EXPECT_EQ(c.jobs, 3);
  EXPECT_EQ(c.overrides.limit, std::size_t{7});
  EXPECT_EQ(c.overrides.out_dir, "o");
  EXPECT_EQ(c.overrides.vcd, "v.vcd");
  EXPECT_EQ(c.max_memory, 1024ull * 1024 * 1024);
  EXPECT_TRUE(c.plots);
  // Explicit --set first, in order; the options that are config keys after them.
  const std::vector<std::string> sets = {"mc.samples=5", "seed=2", "log.level=debug", "output.samples_csv=true",
                                         "output.progress=false"};
  EXPECT_EQ(c.overrides.sets, sets);
}

// A repeated option takes its last value (a wrapper may append to the user's options); --set adds up.
TEST(Cli, LastOccurrenceWins) {
  const Cli c = parse({"run", "a", "--out", "x", "--limit", "60", "--set", "a=1", "--quiet", "--out", "y", "--limit",
                       "8", "--quiet", "--set", "b=2"});
  EXPECT_EQ(c.overrides.out_dir, "y");
  EXPECT_EQ(c.overrides.limit, std::size_t{8});
  EXPECT_EQ(c.overrides.sets, (std::vector<std::string>{"a=1", "b=2", "output.progress=false"}));
  EXPECT_EQ(parse({"run", "a", "--jobs", "x", "--jobs", "2"}).jobs, 2);  // only the last value is read
}

TEST(Cli, DefaultsAndEqualsSyntax) {
  const Cli c = parse({"validate", "--jobs=2", "x.yaml"});
  EXPECT_EQ(c.command, Command::Validate);
  EXPECT_EQ(c.jobs, 2);
  EXPECT_FALSE(c.overrides.limit);
  EXPECT_FALSE(c.plots);
  EXPECT_EQ(c.max_memory, default_memory_limit());
  EXPECT_TRUE(c.overrides.sets.empty());
}

TEST(Cli, UsageErrorsNameTheOptionAndWhatItExpects) {
  EXPECT_EQ(usage_error({}), "missing command (allowed: run, validate, device, completion)");
  EXPECT_EQ(usage_error({"frob"}), "unknown command 'frob' (allowed: run, validate, device, completion)");
  EXPECT_EQ(usage_error({"run"}), "missing CONFIG.yaml");
  EXPECT_EQ(usage_error({"run", "a", "b"}), "unexpected argument 'b' (one CONFIG.yaml expected)");
  EXPECT_EQ(usage_error({"run", "a", "--set"}), "option --set needs a value");
  EXPECT_EQ(usage_error({"run", "a", "--frob"}), "unknown option '--frob'");
  EXPECT_EQ(usage_error({"run", "a", "--qui"}), "unknown option '--qui'");  // no abbreviations
  EXPECT_EQ(usage_error({"run", "a", "--quiet=yes"}), "option --quiet takes no value");
  EXPECT_EQ(usage_error({"run", "a", "--jobs", "two"}), "--jobs expects an integer in [1, 256], got 'two'");
  EXPECT_EQ(usage_error({"run", "a", "--jobs", "0"}), "--jobs expects an integer in [1, 256], got '0'");
  EXPECT_EQ(usage_error({"run", "a", "--jobs", "257"}), "--jobs expects an integer in [1, 256], got '257'");
  EXPECT_EQ(usage_error({"run", "a", "--jobs", "2.5"}), "--jobs expects an integer in [1, 256], got '2.5'");
  EXPECT_EQ(usage_error({"run", "a", "--limit", "-3"}), "--limit expects a positive integer, got '-3'");
  EXPECT_EQ(usage_error({"run", "a", "--limit", "99999999999999999999"}),
            "--limit expects a positive integer, got '99999999999999999999'");
  EXPECT_NE(usage_error({"run", "a", "--max-memory", "lots"}).find("--max-memory expected a size such as 4G"),
            std::string::npos);
  EXPECT_EQ(usage_error({"validate", "a", "--out", "x"}), "unknown option '--out'");  // run's, not validate's
  EXPECT_EQ(usage_error({"--frob", "run", "a"}), "unknown option '--frob' before the command");
  EXPECT_EQ(usage_error({"completion", "tcsh"}), "unsupported shell 'tcsh' (allowed: bash)");
}

TEST(Cli, UsageErrorsKnowTheirCommand) {
  try {
    parse({"validate", "a", "--jobs", "x"});
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(e.command, "validate");
  }
  EXPECT_EQ(usage_line("validate"), "bayescim validate CONFIG.yaml [options]");
}

// Each command's help lists exactly its options; --help wins over a missing config.
TEST(Cli, HelpPerCommand) {
  const Cli run = parse({"run", "--help"});
  ASSERT_TRUE(run.print_only);
  for (const char* o : {"--set KEY=VALUE", "--limit N", "--log-level LEVEL", "--out DIR", "--vcd FILE",
                        "--samples-csv", "--plots", "--quiet", "--jobs N", "--max-memory SIZE", "--help"})
    EXPECT_NE(run.text.find(o), std::string::npos) << o;
  EXPECT_EQ(run.text.rfind("usage: bayescim run CONFIG.yaml [options]", 0), 0u);
  const Cli val = parse({"validate", "x.yaml", "-h"});
  ASSERT_TRUE(val.print_only);
  EXPECT_NE(val.text.find("--set"), std::string::npos);
  EXPECT_EQ(val.text.find("--out"), std::string::npos);
  EXPECT_EQ(val.text.find("--vcd"), std::string::npos);
  const Cli top = parse({"--help"});
  for (const char* c : {"run CONFIG.yaml", "validate CONFIG.yaml", "completion SHELL", "--version"})
    EXPECT_NE(top.text.find(c), std::string::npos) << c;
}

TEST(Cli, VersionNamesACommit) {
  const Cli v = parse({"--version"});
  ASSERT_TRUE(v.print_only);
  EXPECT_EQ(v.text, version_text());
  EXPECT_EQ(v.text.rfind("bayescim 0.", 0), 0u);
  EXPECT_NE(v.text.find("(commit "), std::string::npos);
}

TEST(Cli, BashCompletionListsEveryOption) {
  const Cli c = parse({"completion", "bash"});
  ASSERT_TRUE(c.print_only);
  EXPECT_NE(c.text.find("complete -F _bayescim bayescim"), std::string::npos);
  for (const char* o : {"--set", "--limit", "--log-level", "--out", "--vcd", "--samples-csv", "--plots", "--quiet",
                        "--jobs", "--max-memory"})
    EXPECT_NE(c.text.find(std::string(o) + " "), std::string::npos) << o;
}

}  // namespace
}  // namespace bayescim::sim
