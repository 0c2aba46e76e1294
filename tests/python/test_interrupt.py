"""Nothing lost: runs and sweeps killed mid-way (SIGINT, SIGTERM, SIGKILL) leave no file that looks
complete, say what was finished, exit 130/143, and a rerun completes.

Each signal follows an event the test observes (a file the run creates, a progress line, a point
folder), never a fixed or random delay, so the moment does not depend on the machine's speed.
"""

import csv
import glob
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from tests.harness import CONFIG, EXE, PY, SWEEP, check_report, kill_group, require_exe, run, wait_for

LIMIT = 3000  # 6,000 images at T = 200: several seconds even with two workers; the signal comes at the start
SAMPLES = 200
OUTPUTS = ("report.json", "predictions.csv", "layers.csv", "samples.csv", "run.vcd", "run.gtkw")
# What a killed process may leave: temporaries with their pid, and the workers' hand-over files.
TEMPORARY = re.compile(r"(\.tmp\.\d+(\.vcd)?$)|(^\.worker\d+\.(bin|err)$)")


def processes_mentioning(text):
    """Pids of live processes whose command line contains text (forked workers share it)."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(d, "cmdline"), "rb") as f:
                cmd = f.read().decode(errors="replace")
            with open(os.path.join(d, "stat")) as f:
                state = f.read().split(") ")[-1][:1]
        except OSError:
            continue
        if text in cmd and state != "Z":
            pids.append(int(os.path.basename(d)))
    return pids


def check_outputs_complete_or_absent(out, expected_rows, why):
    """Every file in out is either a clearly named temporary or a complete output."""
    for name in sorted(os.listdir(out)) if os.path.isdir(out) else []:
        if TEMPORARY.search(name):
            continue
        assert name in OUTPUTS, f"{why}: unexpected file {name}"
        path = os.path.join(out, name)
        if name == "report.json":
            with open(path) as f:
                rep = check_report(json.load(f))  # complete and conforming, or this raises
            assert rep["data"]["id"]["images"] + rep["data"]["ood"]["images"] == expected_rows, why
        elif name == "predictions.csv":
            with open(path) as f:
                rows = list(csv.DictReader(f))
            assert len(rows) == expected_rows, f"{why}: predictions.csv has {len(rows)} rows"
        elif name == "run.vcd":
            with open(path) as f:
                assert "$enddefinitions" in f.read(), why


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_killed_run_leaves_nothing_that_looks_complete_and_reruns(sig, jobs, tmp_path, spawn):
    require_exe()
    out = str(tmp_path / "out")
    vcd = os.path.join(out, "run.vcd")
    argv = [EXE, "run", CONFIG, "--limit", str(LIMIT), "--out", out, "--jobs", str(jobs), "--vcd", vcd,
            "--samples-csv", "--log-level", "debug", "--set", f"mc.samples={SAMPLES}"]
    why = f"{sig.name} once tracing started, with --jobs {jobs}"
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The waveforms are recorded in memory and written at the end (hw/trace_recorder.h): the sign
    # that the simulation (and so the traced window) has begun is the controller's debug line
    # "programmed N arrays", logged as the kernel starts.
    watchdog = threading.Timer(120, kill_group, [p])  # no such line in 2 min: end the read below
    watchdog.start()
    seen = []
    try:
        for line in p.stderr:
            seen.append(line)
            if re.search(r"programmed \d+ arrays", line):
                break
    finally:
        watchdog.cancel()
    assert seen and "programmed" in seen[-1], f"{why}: the simulation never started: {''.join(seen)[-2000:]}"
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=120)
    stderr = "".join(seen) + stderr
    assert p.returncode != 0, f"{why}: the run finished before the signal (raise LIMIT)"
    if sig == signal.SIGKILL:
        assert p.returncode == -signal.SIGKILL, why
    else:
        assert p.returncode == 128 + sig, f"{why}: exit {p.returncode}: {stderr}"
        m = re.search(rf"interrupted by {sig.name} after (\d+) of (\d+) images; no report written", stderr)
        assert m, f"{why}: {stderr}"
        assert int(m.group(2)) == 2 * LIMIT and int(m.group(1)) <= 2 * LIMIT, why
        assert "Traceback" not in stderr and "terminate called" not in stderr, stderr
        # A clean stop removes its temporaries too: nothing at all is left but the folder.
        left = sorted(os.listdir(out)) if os.path.isdir(out) else []
        assert left == [], f"{why}: left {left}"
    assert not os.path.exists(os.path.join(out, "report.json")), why
    check_outputs_complete_or_absent(out, 2 * LIMIT, why)
    # No worker outlives its parent (SIGKILL included: they get SIGTERM from the kernel).
    deadline = time.time() + 10
    while processes_mentioning(out) and time.time() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(out) == [], f"{why}: workers still running"
    # A rerun into the same folder (a short one: the point is the folder, and under ASan the long
    # run would take many minutes) completes and leaves only complete outputs.
    rerun = argv[:3] + ["--limit", "40"] + argv[5:-1] + ["mc.samples=2"]
    r = run(rerun, timeout=300)
    assert r.returncode == 0, f"{why}: rerun failed: {r.stderr}"
    check_outputs_complete_or_absent(out, 2 * 40, why)
    for name in ("report.json", "predictions.csv", "layers.csv", "samples.csv", "run.vcd", "run.gtkw"):
        assert os.path.exists(os.path.join(out, name)), f"{why}: rerun did not write {name}"


def test_interrupt_with_a_single_worker_reports_progress_made(tmp_path, spawn):
    """The count in the message is the number of images finished, not 0 or the total."""
    out = str(tmp_path / "out")
    # Without a terminal the progress is a log line every 10 s: the signal follows the first one,
    # so some images are done whatever the machine's speed. T = 1000 keeps the run far longer than
    # 10 s (about 3 min at 2026-12 speed; T = 50 stopped being enough once the MLP ran 20k x 50
    # samples in under 10 s); the kill comes after the first line, so the length costs nothing.
    require_exe()
    p = spawn([EXE, "run", CONFIG, "--out", out, "--set", "mc.samples=1000"], stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, kill_group, [p])  # no progress line in 2 min: end the read below
    watchdog.start()
    first = None
    try:
        for line in p.stderr:
            m = re.search(r"simulating: (\d+)/20000 images", line)
            if m:
                first = int(m.group(1))
                break
    finally:
        watchdog.cancel()
    assert first is not None and first > 0, "no progress line"
    p.send_signal(signal.SIGINT)
    _, rest = p.communicate(timeout=300)
    m = re.search(r"interrupted by SIGINT after (\d+) of 20000 images", rest)
    assert p.returncode == 130 and m, rest
    assert first <= int(m.group(1)) < 20000, rest


# ------------------------------------------------------------------------------------------------
# Sweeps

# Each point is about 4 s at 2026-12 speed (20 samples x 10k images): with 5 x 4000 a point took
# 0.6 s and on a quiet machine the whole sweep could end between the poll and the signal. The
# sanitized build (scripts/test_asan.sh) runs about 5x slower, so there the smaller points last as long.
POINT = (5, 4000) if "build-asan" in EXE else (20, 10000)
SPEC = f"""\
name: killed
base: {CONFIG}
set:
  mc.samples: {POINT[0]}
  data.limit: {POINT[1]}
grid:
  model.dropout.p: [0.1, 0.2, 0.3, 0.4]
  experiment.seed: [1, 2]
"""


def point_states(root):
    """Point folder -> 'complete' or 'absent'; asserts no report is half-written."""
    states = {}
    for d in sorted(glob.glob(os.path.join(root, "points", "*"))):
        rep = os.path.join(d, "report.json")
        if os.path.exists(rep):
            check_report(rep)  # complete and conforming, or this raises
            assert os.path.exists(os.path.join(d, "point.json")), d
            states[d] = "complete"
        else:
            states[d] = "absent"
    return states


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_interrupted_sweep_keeps_finished_points_and_resumes(sig, tmp_path, spawn):
    require_exe()
    spec = tmp_path / "killed.yaml"
    spec.write_text(SPEC)
    out = str(tmp_path / "sweep")
    argv = [PY, SWEEP, "run", str(spec), "--out", out, "--workers", "2", "--no-plots", "--exe", EXE]
    # The signal comes once a point is complete and another one is running: some points are then
    # complete, some running, some pending.
    why = f"{sig.name} after the first complete point, with another running"
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def complete_and_running():
        states = [os.path.exists(os.path.join(d, "report.json")) for d in glob.glob(os.path.join(out, "points", "*"))]
        return any(states) and not all(states)

    wait_for(complete_and_running, "a complete and a running point", timeout=300, alive=p)
    p.send_signal(sig)  # to the driver only, as `kill PID` does
    _, stderr = p.communicate(timeout=120)
    assert p.returncode != 0, f"{why}: the sweep finished before the signal (make the points larger)"
    assert p.returncode == 128 + sig, f"{why}: exit {p.returncode}: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    # Points running at the signal finish in the background and hold their locks: wait for them.
    deadline = time.time() + 60
    while processes_mentioning(out) and time.time() < deadline:
        time.sleep(0.2)
    states = point_states(out)
    for name in glob.glob(os.path.join(out, "**", "*.tmp*"), recursive=True):  # sweep: NAME.tmpPID
        assert False, f"{why}: temporary left: {name}"
    if os.path.exists(os.path.join(out, "results.csv")):
        with open(os.path.join(out, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 8 and {r["status"] for r in rows} <= {"ok", "pending", "failed"}, why
    r = run(argv, timeout=300)
    assert r.returncode == 0, f"{why}: resume failed: {r.stderr[-2000:]}"
    reused = re.search(r"(\d+) already complete", r.stderr)
    assert reused and int(reused.group(1)) == sum(s == "complete" for s in states.values()), \
        f"{why}: {states} / {r.stderr[:500]}"
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and all(row["status"] == "ok" for row in rows), why
