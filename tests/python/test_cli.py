"""The command line as users meet it: help per command, --version with the commit, the bash
completion script driven by bash itself, and the version kept out of report.json. (The one-line
errors per message class are in test_error_catalogue.py; parsing details in tests/unit/test_cli.cpp.)"""

import os
import re
import shutil

import pytest

from tests.harness import CONFIG, REPO_ROOT, check_report, run, run_sim


def sim(*args):
    return run_sim(*args, check=False, timeout=120)


def test_top_level_help_lists_the_commands():
    for flag in ("--help", "-h"):
        p = sim(flag)
        assert p.returncode == 0 and p.stderr == ""
        assert p.stdout.startswith("usage: bayescim COMMAND [options]")
        for line in ("run CONFIG.yaml", "validate CONFIG.yaml", "completion SHELL", "--version", "exit codes"):
            assert line in p.stdout, line


@pytest.mark.parametrize("command,has,lacks", [
    ("run", ["--set KEY=VALUE", "--out DIR", "--vcd FILE", "--plots", "--jobs N", "--max-memory SIZE"], []),
    ("validate", ["--set KEY=VALUE", "--limit N", "--jobs N", "--max-memory SIZE"], ["--out", "--vcd", "--plots"]),
])
def test_help_per_command(command, has, lacks):
    p = sim(command, "--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"usage: bayescim {command} CONFIG.yaml [options]")
    for o in has:
        assert o in p.stdout, o
    for o in lacks:
        assert o not in p.stdout, o


def test_usage_error_points_at_the_commands_help():
    p = sim("validate", CONFIG, "--out", "x")
    assert p.returncode == 2
    assert p.stderr == ("bayescim: error: unknown option '--out' (usage: bayescim validate CONFIG.yaml [options]; "
                        "see bayescim validate --help)\n")


def test_version_names_a_commit_of_this_repository():
    p = sim("--version")
    assert p.returncode == 0, p.stderr
    m = re.fullmatch(r"bayescim (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}|unknown)\)\n", p.stdout)
    assert m, p.stdout
    with open(os.path.join(REPO_ROOT, "CMakeLists.txt")) as f:
        assert re.search(r"project\(bayescim VERSION " + re.escape(m.group(1)), f.read())
    if m.group(2) != "unknown" and shutil.which("git") and os.path.exists(os.path.join(REPO_ROOT, ".git")):
        q = run(["git", "cat-file", "-t", m.group(2)], cwd=REPO_ROOT, timeout=30)
        assert q.stdout.strip() == "commit", f"{m.group(2)} is not a commit of this repository"


def test_version_header_falls_back_without_git(tmp_path):
    """cmake/version.cmake in a tree without .git writes 'unknown'; in a fresh repository, its HEAD."""
    os.makedirs(tmp_path / "sim")
    os.makedirs(tmp_path / "cmake")
    shutil.copy(os.path.join(REPO_ROOT, "sim", "version.h.in"), tmp_path / "sim")
    shutil.copy(os.path.join(REPO_ROOT, "cmake", "version.cmake"), tmp_path / "cmake")

    def configure():
        p = run(["cmake", "-DPROJECT_VERSION=7.8.9", "-P", "cmake/version.cmake"], cwd=tmp_path, timeout=60)
        assert p.returncode == 0, p.stderr
        return (tmp_path / "generated" / "bayescim_version.h").read_text()

    header = configure()
    assert '#define BAYESCIM_VERSION "7.8.9"' in header and '#define BAYESCIM_GIT_COMMIT "unknown"' in header
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q", "."], ["commit", "-q", "--allow-empty", "-m", "x"]):
        run(git + args, cwd=tmp_path, check=True, timeout=30)
    head = run(["git", "rev-parse", "HEAD"], cwd=tmp_path, timeout=30).stdout.strip()
    assert f'#define BAYESCIM_GIT_COMMIT "{head[:12]}"' in configure()


def test_report_does_not_carry_the_version(tmp_path):
    commit = re.search(r"commit (\S+)\)", sim("--version").stdout).group(1)
    p = sim("run", CONFIG, "--limit", "5", "--set", "mc.samples=1", "--quiet", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "report.json").read_text()
    check_report(tmp_path / "report.json")
    if commit != "unknown":
        assert commit not in text
    assert '"version"' not in text and '"commit"' not in text


def complete(words):
    """The completions bash offers for the last word of `words`, with the generated script loaded."""
    script = sim("completion", "bash")
    assert script.returncode == 0, script.stderr
    line = " ".join(f"'{w}'" for w in words)
    prog = (f"{script.stdout}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _bayescim; "
            "printf '%s\\n' \"${COMPREPLY[@]}\"")
    p = run(["bash", "--norc", "-c", prog], cwd=REPO_ROOT, timeout=30)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.split("\n") if w]


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed")
def test_bash_completion():
    assert complete(["bayescim", ""]) == ["run", "validate", "device", "completion", "--help", "--version"]
    assert complete(["bayescim", "device", "x.yaml", "--cur"]) == ["--current-uA", "--current-density"]
    assert complete(["bayescim", "va"]) == ["validate"]
    assert complete(["bayescim", "run", "x.yaml", "--li"]) == ["--limit"]
    assert complete(["bayescim", "run", "x.yaml", "--log-level", "d"]) == ["debug"]
    assert complete(["bayescim", "validate", "x.yaml", "--o"]) == []  # --out is run's only
    assert set(complete(["bayescim", "run", "x.yaml", "--"])) == {
        "--set", "--limit", "--log-level", "--out", "--vcd", "--samples-csv", "--plots", "--quiet", "--jobs",
        "--max-memory", "--help"}
    assert complete(["bayescim", "run", "configs/experiments/mnist_mlp_s"]) == ["configs/experiments/mnist_mlp_scale.yaml"]
    assert complete(["bayescim", "run", "x.yaml", "--out", "configs/exp"]) == ["configs/experiments"]
    assert complete(["bayescim", "run", "x.yaml", "--jobs", ""]) == []
    assert complete(["bayescim", "completion", ""]) == ["bash"]
