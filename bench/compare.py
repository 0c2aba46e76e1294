#!/usr/bin/python3
"""End-to-end speed of bayescim against PyTorch and the bit-packed roofline, measured in one run on
this machine (issue 8). Ratios, not absolute times, are the result.

Workloads (T MC samples per image, ID test split + OOD test split, first --limit images of each):
  mlp_scale         MNIST MLP, MC-Scale-Dropout, ideal devices         (configs/experiments/mnist_mlp_scale.yaml)
  cnn_spatial       Fashion-MNIST CNN, MC-SpatialDropout, ideal devices (configs/experiments/fashion_cnn_spatial.yaml)
  mlp_scale_analog  the MLP in analog mode: device variation on (hardware.device.variation.r_p_sigma_log)

For each workload:
  A1 / A   bayescim run (SystemC, full energy and latency accounting) with --jobs 1 / --jobs <cores>
  B        PyTorch (Debian's CPU build, all cores): the same ONNX model's MC inference with models/bnn.py's
           mc_probs (dropout active, per-image draws, batches of up to 2000, deterministic prefix reused)
  C        the bit-packed reference executor alone (experiment.engine=reference, --jobs 1): the same binary
           MACs with no hardware model
and it reports A/B (all cores on both sides), A1/C (one core on both sides), the --jobs speed-up A1/A and
the peak RSS of every bayescim run (the largest process: the parent or one worker). On mlp_scale it also
measures the parallel capacity the machine offers at that moment: <cores> independent --jobs 1 runs started
together (on an idle machine x<cores>; a shared machine gives less, and the --jobs speed-up cannot exceed it).
For scale it also gives
  R        the XNOR-popcount roofline: the run's binary MACs / the fastest MAC rate of the tight kernels
           (bench_kernels BM_XnorGemv/784/512 scalar and BM_SaColumns/1, AVX-512 VPOPCNTDQ where the CPU has
           it; one core), i.e. about the time no bit-packed executor on this CPU can beat on one core

    /usr/bin/python3 -m bench.compare                    # all images (long: see docs/performance.md)
    /usr/bin/python3 bench/compare.py                    # the same, as a script
    /usr/bin/python3 -m bench.compare --cnn-limit 2000 --analog-limit 2000   # the run in docs/performance.md
    /usr/bin/python3 -m bench.compare --limit 500        # quick
    /usr/bin/python3 -m bench.compare --only mlp_scale

Writes bench/results/compare-<date>.json with the machine description.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "build", "bayescim")
EXP = os.path.join(REPO, "configs", "experiments")

WORKLOADS: Dict[str, Dict[str, Any]] = {
    "mlp_scale": {"config": "mnist_mlp_scale.yaml", "sets": []},
    "cnn_spatial": {"config": "fashion_cnn_spatial.yaml", "sets": []},
    "mlp_scale_analog": {"config": "mnist_mlp_scale.yaml", "sets": ["hardware.device.variation.r_p_sigma_log=0.05"]},
}


def run_sim(config: str, sets: Sequence[str], T: int, limit: int, jobs: int, engine: str) -> Tuple[float, float, Any]:
    """Wall seconds and peak RSS (MB, largest single process) of one bayescim run."""
    out = tempfile.mkdtemp(prefix="bayescim-bench-")
    cmd = [BIN, "run", config, "--quiet", "--set", f"mc.samples={T}", "--set", f"experiment.engine={engine}",
           "--jobs", str(jobs), "--out", out]
    for s in sets:
        cmd += ["--set", s]
    if limit:
        cmd += ["--limit", str(limit)]
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    # Through /usr/bin/time: a child forked from this (large) Python process would inherit its
    # peak RSS; time's %M is bayescim's own, which covers the workers it waited for.
    rss_file = os.path.join(out, "rss")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode()}")
    with open(rss_file) as f:
        rss_kb = int(f.read().split()[-1])
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    subprocess.run(["rm", "-rf", out], check=True)
    macs = rep["model"]["binary_macs_per_sample"] * T * sum(d["images"] for d in rep["data"].values())
    return wall, rss_kb / 1024.0, macs


def gemv_rate() -> float:
    """Binary MACs per second of the fastest tight XNOR-popcount kernel (bench_kernels, one core): the
    scalar GEMV (784 x 512) or the SA-column kernel (AVX-512 VPOPCNTDQ when the CPU has it)."""
    exe = os.path.join(REPO, "build", "bench", "bench_kernels")
    if not os.path.exists(exe):
        sys.exit(f"bench/compare.py: {exe} is missing: the benchmarks are built when google-benchmark is found "
                 f"(apt install libbenchmark-dev, then cmake --preset release; or -DBAYESCIM_BENCH=ON)")
    p = subprocess.run([exe, "--benchmark_filter=BM_XnorGemv/784/512$|BM_SaColumns/1$", "--benchmark_format=json",
                        "--benchmark_min_time=0.5", "--benchmark_repetitions=3"], capture_output=True, text=True,
                       check=True)
    runs = [b for b in json.loads(p.stdout)["benchmarks"] if b.get("run_type") == "iteration"]
    return max(b["items_per_second"] for b in runs)


def run_torch(model_path: str, cfg: Dict[str, Any], T: int, limit: int) -> float:
    """Wall seconds of PyTorch MC inference over the same images (data loading excluded)."""
    import numpy as np
    import torch
    from models import datasets
    from models.bnn import mc_probs
    from models.onnx_to_torch import onnx_to_torch
    torch.set_num_threads(os.cpu_count() or 1)
    model, _ = onnx_to_torch(model_path)
    imgs = []
    for split in (cfg["data"]["id"], cfg["data"]["ood"]):
        x, _, _ = datasets.load(os.path.join(REPO, "data"), split["dataset"], "test")
        imgs.append(x[:limit] if limit else x)
    x = np.concatenate(imgs).astype(np.float32) / 255.0
    x = x.reshape(len(x), -1) if "mlp" in os.path.basename(model_path) else x.reshape(len(x), 1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    p = mc_probs(model, x, T, gen)
    wall = time.perf_counter() - t0
    assert p.shape[:2] == (T, len(x)), p.shape
    return wall


def capacity(config: str, sets: Sequence[str], T: int, limit: int, jobs: int, a1: float) -> float:
    """How many cores this machine gives us right now: `jobs` independent --jobs 1 runs at once
    take `wall`; capacity = jobs * a1 / wall (jobs if they truly ran in parallel, 1 if not)."""
    import concurrent.futures
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        list(ex.map(lambda _: run_sim(config, sets, T, limit, 1, "hw"), range(jobs)))
    return jobs * a1 / (time.perf_counter() - t0)


def best(reps: int, f: Callable[[], Any]) -> Any:
    """The fastest of reps measurements (a shared machine only ever adds time); RSS is the largest."""
    runs = [f() for _ in range(reps)]
    fastest = min(runs, key=lambda r: r[0])
    if len(fastest) > 1:
        fastest = (fastest[0], max(r[1] for r in runs)) + tuple(fastest[2:])
    return fastest


def save(res: Dict[str, Any], out: str) -> None:
    res["load_average_end"] = os.getloadavg()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
    os.replace(out + ".tmp", out)


def _group(pattern: str, text: str) -> str:
    """The first group of pattern's first match in text (ValueError if there is none)."""
    m = re.search(pattern, text)
    if m is None:
        raise ValueError(f"no match for {pattern!r}")
    return m.group(1)


def machine() -> Dict[str, Any]:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(_group(r"MemTotal:\s+(\d+)", f.read()))
    versions = {"python": platform.python_version()}
    try:
        import torch
        versions["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        cache = open(os.path.join(REPO, "build", "CMakeCache.txt")).read()
        versions["cxx"] = _group(r"CMAKE_CXX_COMPILER:\w+=(.*)", cache)
        versions["build_type"] = _group(r"CMAKE_BUILD_TYPE:\w+=(.*)", cache)
        versions["cxx_version"] = subprocess.run([versions["cxx"], "-dumpfullversion"], capture_output=True,
                                                 text=True).stdout.strip()
    except (OSError, AttributeError):
        pass
    try:
        versions["bayescim_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                                     capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_GB": round(mem_kb / 2**20, 1),
            "platform": platform.platform(), "versions": versions}


def main() -> None:
    if REPO not in sys.path:  # B imports models/, a package of the repository root (run as a script)
        sys.path.insert(0, REPO)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=0, help="images per split for mlp_scale (0 = all 10k + 10k)")
    ap.add_argument("--cnn-limit", type=int, default=None, help="images per split for cnn_spatial (default --limit)")
    ap.add_argument("--analog-limit", type=int, default=None,
                    help="images per split for mlp_scale_analog (default --limit)")
    ap.add_argument("--sigma", type=float, default=0.05, help="variation.r_p_sigma_log of the analog workload")
    ap.add_argument("--T", type=int, default=20)
    ap.add_argument("--reps", type=int, default=1, help="measurements of each time; the fastest counts")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="jobs of the parallel run A")
    ap.add_argument("--only", action="append", choices=sorted(WORKLOADS), help="run only these workloads")
    ap.add_argument("--out", default=None, help="result file (default bench/results/compare-<date>.json)")
    args = ap.parse_args()
    import yaml

    WORKLOADS["mlp_scale_analog"]["sets"] = [f"hardware.device.variation.r_p_sigma_log={args.sigma}"]
    limits = {"mlp_scale": args.limit,
              "cnn_spatial": args.limit if args.cnn_limit is None else args.cnn_limit,
              "mlp_scale_analog": args.limit if args.analog_limit is None else args.analog_limit}
    res = {"T": args.T, "jobs": args.jobs, "reps": args.reps, "machine": machine(),
           "load_average_start": os.getloadavg(), "date": datetime.datetime.now().isoformat(timespec="seconds"),
           "workloads": {}}
    out = args.out or os.path.join(REPO, "bench", "results", f"compare-{datetime.date.today()}.json")
    rate = gemv_rate()
    res["gemv_binary_macs_per_s"] = rate
    for name in args.only or list(WORKLOADS):
        w = WORKLOADS[name]
        config = os.path.join(EXP, w["config"])
        with open(config) as f:
            cfg = yaml.safe_load(f)
        model = os.path.normpath(os.path.join(EXP, cfg["model"]["path"]))
        limit = limits[name]
        a1, rss1, macs = best(args.reps, lambda: run_sim(config, w["sets"], args.T, limit, 1, "hw"))
        aj, rssj, _ = best(args.reps, lambda: run_sim(config, w["sets"], args.T, limit, args.jobs, "hw"))
        b = best(args.reps, lambda: (run_torch(model, cfg, args.T, limit),))[0]
        c, rssc, _ = best(args.reps, lambda: run_sim(config, w["sets"], args.T, limit, 1, "reference"))
        roof = macs / rate
        cap = capacity(config, w["sets"], args.T, limit, args.jobs, a1) if name == "mlp_scale" else None
        r = {"config": os.path.relpath(config, REPO), "sets": w["sets"], "limit": limit,
             "images": 2 * limit if limit else None,
             "A1_bayescim_jobs1_s": a1, "A_bayescim_jobs_s": aj, "B_pytorch_s": b, "C_reference_s": c,
             "binary_macs": macs, "R_gemv_roofline_s": roof,
             "A_over_B": aj / b, "A1_over_B": a1 / b, "A1_over_C": a1 / c, "A1_over_R": a1 / roof,
             "C_over_R": c / roof, "jobs_speedup": a1 / aj, "parallel_capacity": cap,
             "peak_rss_MB": {"A1": rss1, "A": rssj, "C": rssc}}
        res["workloads"][name] = r
        save(res, out)  # after every workload: a long run interrupted keeps what it measured
        print(f"{name:17s} A1 {a1:7.2f} s  A(jobs {args.jobs}) {aj:7.2f} s  B {b:7.2f} s  C {c:7.2f} s | "
              f"A/B {aj / b:5.2f}  A1/B {a1 / b:5.2f}  A1/C {a1 / c:5.2f}  A1/R {a1 / roof:5.1f}  "
              f"jobs x{a1 / aj:4.2f}  "
              f"RSS {max(rss1, rssj, rssc):.0f} MB" + (f"  (capacity x{cap:.2f})" if cap else ""), flush=True)
    save(res, out)
    print(f"load average {res['load_average_start'][0]:.2f} -> {res['load_average_end'][0]:.2f}; wrote {out}")


if __name__ == "__main__":
    main()
