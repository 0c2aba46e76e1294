"""The sweep tool (sweep/bayescim-sweep) on the real simulator and real Dask clusters, loopback only:
a local cluster of 2 worker processes; the same sweep through --scheduler against a scheduler and
2 workers started here as separate processes (identical results.csv); SIGKILL of the driver mid-
sweep, then a rerun: every point simulated exactly once (a counting wrapper around the
executable) and results identical to the uninterrupted sweep; spec validation errors with file,
line and key. Each point is tiny (20 + 20 images, T = 2)."""

import csv
import glob
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from tests.harness import CONFIG as BASE, EXE, PY, REPO_ROOT, SWEEP, check_report, read_report, require_exe, run_sim, \
    run_sweep, wait_for

# grid (2) x zip (2) x random (2) = 8 points
TINY = f"""\
name: tiny
base: {BASE}
set:
  mc.samples: 2
  data.limit: 20
grid:
  model.dropout.kind: [scale, mc_dropout]
zip:
  model.dropout.p: [0.1, 0.3]
  experiment.seed: [1, 2]
random:
  samples: 2
  seed: 5
  axes:
    hardware.architecture.adc.bits: {{int: [4, 8]}}
"""
N_POINTS = 8


def sweep(*args, timeout=150, env=None):
    return run_sweep(*args, timeout=timeout, env=env)


def counting_exe(path, count_file, gate=None):
    """A wrapper around build/bayescim that appends one line per `run` (its pid and arguments).
    With gate, each run then waits until that file exists: points stay running until the test
    opens the gate, whatever the machine's speed."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                'if [ "$1" = run ]; then\n'
                f'  echo "$$ $*" >> {count_file}\n'
                + (f"  while [ ! -e {gate} ]; do sleep 0.05; done\n" if gate else "")
                + "fi\n"
                f'exec {EXE} "$@"\n')
    os.chmod(path, 0o755)
    return str(path)


def invocations(count_file):
    """Point folder -> number of simulator runs in it."""
    if not os.path.exists(count_file):
        return {}
    out = {}
    with open(count_file) as f:
        for line in f:
            args = line.split()
            d = args[args.index("--out") + 1]
            out[d] = out.get(d, 0) + 1
    return out


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def workers_used(out):
    ws = set()
    pts = os.path.join(out, "points")
    for d in os.listdir(pts):
        with open(os.path.join(pts, d, "point.json")) as f:
            ws.add(json.load(f)["worker"])
    return ws


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(procs):
    """Terminates each process group, then kills what is left."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=30)


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    require_exe()
    d = tmp_path_factory.mktemp("sweepspec")
    path = d / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


@pytest.fixture(scope="module")
def local_run(spec_file, tmp_path_factory):
    """The tiny sweep, uninterrupted, on a local cluster of 2 worker processes."""
    d = tmp_path_factory.mktemp("local")
    count = str(d / "count.txt")
    exe = counting_exe(d / "bayescim", count)
    out = str(d / "out")
    t0 = time.time()
    p = sweep("run", spec_file, "--out", out, "--workers", "2", "--exe", exe)
    wall = time.time() - t0
    assert p.returncode == 0, p.stderr
    return {"out": out, "count": count, "exe": exe, "stderr": p.stderr, "wall": wall}


def test_local_cluster_runs_every_point_once(local_run):
    out = local_run["out"]
    assert "local Dask cluster of 2 worker process(es)" in local_run["stderr"]
    rows = read_rows(os.path.join(out, "results.csv"))
    assert len(rows) == N_POINTS
    assert all(r["status"] == "ok" for r in rows), rows
    for col in ("model.dropout.kind", "model.dropout.p", "experiment.seed", "hardware.architecture.adc.bits",
                "method", "metrics.id.accuracy", "metrics.id.ece", "metrics.ood.auroc_entropy",
                "energy.per_inference_J", "latency.per_inference_s"):
        assert col in rows[0], col
    assert {r["model.dropout.kind"] for r in rows} == {"scale", "mc_dropout"}
    assert {(r["model.dropout.p"], r["experiment.seed"]) for r in rows} == {("0.1", "1"), ("0.3", "2")}
    assert all(r["method"] == r["model.dropout.kind"] for r in rows)
    reports = sorted(glob.glob(os.path.join(out, "points", "*", "report.json")))
    assert len(reports) == N_POINTS
    for rep in reports:  # every point's report against docs/report-schema.json
        check_report(rep)
    runs = invocations(local_run["count"])
    assert len(runs) == N_POINTS and set(runs.values()) == {1}
    assert len(workers_used(out)) == 2, "both worker processes should have run points"
    for name in ("pareto_energy_vs_ece.png", "pareto_energy_vs_accuracy.png", "pareto_energy_vs_auroc.png",
                 "axis_model.dropout.kind.png", "axis_model.dropout.p.png"):
        path = os.path.join(out, "plots", name)
        assert os.path.getsize(path) > 5000, name
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    summary = open(os.path.join(out, "summary.md")).read()
    assert f"{N_POINTS} done, 0 failed" in summary and "## Pareto-optimal points" in summary


def test_results_match_a_direct_run_of_the_simulator(local_run, tmp_path):
    rows = read_rows(os.path.join(local_run["out"], "results.csv"))
    r = next(r for r in rows if r["model.dropout.kind"] == "mc_dropout" and r["model.dropout.p"] == "0.3")
    d = tmp_path / "direct"
    run_sim("run", BASE, "--set", "mc.samples=2", "--set", "data.limit=20",
            "--set", "model.dropout.kind=mc_dropout", "--set", "model.dropout.p=0.3",
            "--set", "experiment.seed=2",
            "--set", f"hardware.architecture.adc.bits={r['hardware.architecture.adc.bits']}",
            "--out", str(d), "--quiet")
    rep = read_report(d)
    assert r["metrics.id.accuracy"] == repr(rep["metrics"]["id"]["accuracy"])
    assert r["metrics.id.ece"] == repr(rep["metrics"]["id"]["ece"])
    assert r["metrics.ood.auroc_entropy"] == repr(rep["metrics"]["ood"]["auroc_entropy"])
    assert r["energy.per_inference_J"] == repr(rep["energy"]["per_inference_J"])
    assert r["hardware.random_bits"] == str(rep["hardware"]["random_bits"])


def test_rerun_of_a_complete_sweep_runs_nothing(local_run, spec_file):
    before = open(os.path.join(local_run["out"], "results.csv")).read()
    p = sweep("run", spec_file, "--out", local_run["out"], "--workers", "2", "--exe", local_run["exe"],
              "--no-plots")
    assert p.returncode == 0, p.stderr
    assert f"{N_POINTS} already complete, 0 to run" in p.stderr
    assert set(invocations(local_run["count"]).values()) == {1}
    assert open(os.path.join(local_run["out"], "results.csv")).read() == before


def test_existing_scheduler_with_two_separate_workers_gives_identical_results(local_run, spec_file, tmp_path, spawn):
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    procs = []
    try:
        procs.append(spawn(["/usr/bin/dask-scheduler", "--host", "127.0.0.1", "--port", str(port),
                            "--no-dashboard"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL))
        for _ in range(2):
            procs.append(spawn(["/usr/bin/dask-worker", addr, "--nthreads", "1", "--nworkers", "1",
                                "--host", "127.0.0.1", "--no-dashboard"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client
        deadline = time.time() + 60
        while True:  # the scheduler takes a moment to listen
            try:
                with Client(addr, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.time()))
                break
            except OSError:
                assert time.time() < deadline, "the Dask scheduler did not come up"
                time.sleep(0.5)
        count = str(tmp_path / "count.txt")
        exe = counting_exe(tmp_path / "bayescim", count)
        out = str(tmp_path / "out")
        p = sweep("run", spec_file, "--out", out, "--scheduler", addr, "--exe", exe, "--no-plots")
        assert p.returncode == 0, p.stderr
        assert f"running on Dask scheduler {addr}" in p.stderr
        with open(os.path.join(out, "results.csv")) as a, open(os.path.join(local_run["out"], "results.csv")) as b:
            assert a.read() == b.read()
        runs = invocations(count)
        assert len(runs) == N_POINTS and set(runs.values()) == {1}
        assert len(workers_used(out)) == 2
        # the point folders carry the same hashes as the local run's
        assert sorted(os.listdir(os.path.join(out, "points"))) == \
            sorted(os.listdir(os.path.join(local_run["out"], "points")))
    finally:
        stop(procs)
    for p in procs:
        assert p.poll() is not None


def test_sigkill_of_the_driver_then_rerun_completes_each_point_exactly_once(local_run, spec_file, tmp_path, spawn):
    count = str(tmp_path / "count.txt")
    gate = tmp_path / "gate"
    exe = counting_exe(tmp_path / "bayescim", count, gate=gate)  # points wait at the gate: the kill lands mid-sweep
    out = str(tmp_path / "out")
    args = [PY, SWEEP, "run", spec_file, "--out", out, "--workers", "2", "--exe", exe, "--no-plots"]
    driver = spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Both workers have a point running (held at the gate); the other points are pending.
        wait_for(lambda: sum(invocations(count).values()) >= 2, "two running points", alive=driver)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        gate.touch()  # the orphaned points (own sessions) finish, holding their locks until then
    started = sum(invocations(count).values())
    assert started < N_POINTS
    p = sweep("run", spec_file, "--out", out, "--workers", "2", "--exe", exe, "--no-plots")
    assert p.returncode == 0, p.stderr
    reused = int(p.stderr.split(" already complete")[0].split(", ")[-1])
    assert reused < N_POINTS, p.stderr  # the first run really was cut short
    runs = invocations(count)
    assert len(runs) == N_POINTS and set(runs.values()) == {1}, runs
    with open(os.path.join(out, "results.csv")) as a, open(os.path.join(local_run["out"], "results.csv")) as b:
        assert a.read() == b.read()


def test_sigkill_of_a_worker_loses_no_point_and_runs_none_twice(local_run, spec_file, tmp_path, spawn):
    count = str(tmp_path / "count.txt")
    gate = tmp_path / "gate"
    exe = counting_exe(tmp_path / "bayescim", count, gate=gate)
    out = str(tmp_path / "out")
    driver = spawn([PY, SWEEP, "run", spec_file, "--out", out, "--workers", "2", "--exe", exe, "--no-plots"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: invocations(count), "a running point", alive=driver)
        with open(count) as f:
            wrapper = int(f.readline().split()[0])
        with open(f"/proc/{wrapper}/stat") as f:
            worker = int(f.read().rsplit(")", 1)[1].split()[1])  # the Dask worker that started it
        os.kill(worker, signal.SIGKILL)  # while its point waits at the gate
    finally:
        gate.touch()
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    runs = invocations(count)
    assert len(runs) == N_POINTS and set(runs.values()) == {1}, runs
    with open(os.path.join(out, "results.csv")) as a, open(os.path.join(local_run["out"], "results.csv")) as b:
        assert a.read() == b.read()


# -- spec validation ---------------------------------------------------------------------------------------


def _write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


HEAD = f"base: {BASE}\nset:\n  mc.samples: 2\n"  # lines 1-3


@pytest.mark.parametrize("body, line, needles", [
    ("gird:\n  mc.samples: [1, 2]\n", 4, ["unknown key 'gird'", "allowed at the top level"]),
    ("grid:\n  model.dropout.p: []\n", 5, ["axis 'model.dropout.p' is empty"]),
    ("grid:\n  mc.samplez: [1, 2]\n", 5, ["axis 'mc.samplez'", "unknown key 'mc.samplez'", "allowed in 'mc'"]),
    ("grid:\n  model.dropout.p:\n    - 0.1\n    - 7\n", 7,
     ["axis 'model.dropout.p' = 7", "key 'model.dropout.p': expected a number"]),
    ("grid:\n  model.dropout.kind: [scale, spatial, foo]\n", 5,
     ["axis 'model.dropout.kind' = foo", "expected one of: none, mc_dropout, spatial, scale"]),
    ("zip:\n  model.dropout.p: [0.1, 0.2]\n  experiment.seed: [1]\n", 6, ["zipped axis 'experiment.seed' has 1"]),
    ("random:\n  samples: 3\n  seed: 1\n  axes:\n    model.dropout.p: {normal: [0, 1]}\n", 8,
     ["unknown distribution 'normal'"]),
    ("random:\n  samples: 0\n  seed: 1\n  axes:\n    model.dropout.p: {uniform: [0.1, 0.3]}\n", 5,
     ["key 'random.samples': expected an integer in [1, 100000], got 0"]),
    ("grid:\n  output.dir: [a, b]\n", 5, ["the sweep manages 'output' itself"]),
    ("grid:\n  mc.samples: [3]\n", 5, ["axis 'mc.samples' is also fixed in 'set' (line 3)"]),
    ("grid:\n  model.dropout.p: [0.1]\nmetrics: [metrics.id.acuracy]\n", 6,
     ["unknown report key 'metrics.id.acuracy'", "metrics.id.accuracy"]),
    ("grid:\n  model.dropout.p: 0.1\n", 5, ["axis 'model.dropout.p': expected a list of values"]),
    ("grid:\n  model.dropout.p: [0.1]\n  model.dropout.p: [0.2]\n", 6, ["duplicate key 'model.dropout.p'"]),
])
def test_spec_errors_name_file_line_and_key(tmp_path, body, line, needles):
    path = _write(tmp_path, HEAD + body)
    p = sweep("validate", path)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"bayescim-sweep: error: {path}:{line}: " in p.stderr, p.stderr
    for n in needles:
        assert n in p.stderr, p.stderr


def test_typo_in_an_axis_key_fails_before_anything_runs(tmp_path):
    path = _write(tmp_path, HEAD + "grid:\n  model.dropout.p: [0.1, 0.2]\n  hardware.architecture.array.rowz: [64]\n")
    count = str(tmp_path / "count.txt")
    exe = counting_exe(tmp_path / "bayescim", count)
    out = tmp_path / "out"
    p = sweep("run", path, "--out", str(out), "--exe", exe)
    assert p.returncode == 1
    assert f"{path}:6: axis 'hardware.architecture.array.rowz'" in p.stderr, p.stderr
    assert "unknown key 'hardware.architecture.array.rowz' (allowed in 'hardware.architecture.array'" in p.stderr
    assert not os.path.exists(count) and not out.exists()


def test_missing_model_is_reported_with_its_line(tmp_path):
    path = _write(tmp_path, f"base: {BASE}\nset:\n  model.path: nope.onnx\n")
    p = sweep("validate", path)
    assert p.returncode == 1
    assert f"{path}:3: model file not found: {tmp_path / 'nope.onnx'}" in p.stderr, p.stderr


# -- expansion and hashes (in process) ----------------------------------------------------------------------


def test_points_and_hashes_are_stable(tmp_path):
    from bayescim_sweep import spec as S
    a = S.Spec(_write(tmp_path, TINY))
    assert len(a.points) == N_POINTS
    draws = [p.values["hardware.architecture.adc.bits"] for p in a.points]
    assert all(4 <= d <= 8 for d in draws)
    b = S.Spec(_write(tmp_path, TINY))
    assert [p.hash for p in a.points] == [p.hash for p in b.points]
    # the order of the keys in the spec does not matter; a different fixed value does
    reordered = TINY.replace("  mc.samples: 2\n  data.limit: 20\n", "  data.limit: 20\n  mc.samples: 2\n")
    c = S.Spec(_write(tmp_path, reordered))
    assert {p.hash for p in c.points} == {p.hash for p in a.points}
    d = S.Spec(_write(tmp_path, TINY.replace("data.limit: 20", "data.limit: 21")))
    assert not {p.hash for p in d.points} & {p.hash for p in a.points}
    # --set arguments: sorted keys, so an include key precedes the keys inside it
    p = a.points[0]
    keys = [arg.split("=")[0] for arg in p.set_args(a)[1::2]]
    assert keys == sorted(keys)
    # blocks: a union; a point given twice is run once
    e = S.Spec(_write(tmp_path, f"base: {BASE}\nblocks:\n  - grid: {{mc.samples: [1, 2]}}\n"
                                f"  - grid: {{mc.samples: [2, 3]}}\n"))
    assert [p.values["mc.samples"] for p in e.points] == [1, 2, 3] and e.duplicates == 1


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(os.path.join(REPO_ROOT, "configs", "sweeps"))
                                        if f.endswith(".yaml")))
def test_shipped_sweeps_are_valid(name):
    """Every shipped spec parses; those whose models exist pass the simulator's validation too."""
    from bayescim_sweep import spec as S
    path = os.path.join(REPO_ROOT, "configs", "sweeps", name)
    s = S.Spec(path)
    assert s.points
    if all(os.path.exists(p.model_path) for p in s.points):
        p = sweep("validate", path)
        assert p.returncode == 0, p.stderr
