#!/usr/bin/python3
"""End-to-end speed, measured in one run on this machine (ratios, not absolute times):

  A  bayescim run (SystemC, full energy and latency accounting), T MC samples per image
  B  PyTorch (Debian's CPU build, all cores) running the same model's MC inference: dropout active,
     per-image draws, batches of 1000 images
  C  the bit-packed reference executor alone (`experiment.engine=reference`): the same binary
     MACs with no hardware model

    /usr/bin/python3 bench/compare.py [--config configs/experiments/mnist_mlp_scale.yaml] [--limit N] [--T 20]

Writes bench/results/<config>-<date>.json with the machine description and prints A/B and A/C.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "models"))


def run_sim(config, T, limit, jobs, engine):
    cmd = [os.path.join(REPO, "build", "bayescim"), "run", config, "--quiet", "--set", f"mc.samples={T}",
           "--set", f"experiment.engine={engine}", "--jobs", str(jobs), "--out", f"/tmp/bayescim-bench-{engine}"]
    if limit:
        cmd += ["--limit", str(limit)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"))
    return time.perf_counter() - t0


def run_torch(model_path, id_ds, ood_ds, T, limit):
    import numpy as np
    import torch
    import datasets
    from bnn import mc_forward
    from onnx_to_torch import onnx_to_torch
    torch.set_num_threads(os.cpu_count() or 1)
    model, _ = onnx_to_torch(model_path)
    model.eval()
    imgs = []
    for name in (id_ds, ood_ds):
        x, _, _ = datasets.load(os.path.join(REPO, "data"), name, "test")
        imgs.append(x[:limit] if limit else x)
    x = np.concatenate(imgs).astype(np.float32) / 255.0
    x = x.reshape(len(x), -1) if "mlp" in os.path.basename(model_path) else x.reshape(len(x), 1, 28, 28)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    with torch.no_grad():
        for b in range(0, len(x), 1000):
            xb = torch.from_numpy(x[b:b + 1000])
            probs = 0
            for _ in range(T):
                bits = model.sample_bits(xb.shape[0], gen)
                probs = probs + torch.softmax(mc_forward(model, xb, bits), dim=1)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(REPO, "configs", "experiments", "mnist_mlp_scale.yaml"))
    ap.add_argument("--limit", type=int, default=0, help="images per split (0 = all 10k + 10k)")
    ap.add_argument("--T", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    import yaml
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    model = os.path.normpath(os.path.join(os.path.dirname(args.config), cfg["model"]["path"]))
    a = run_sim(args.config, args.T, args.limit, args.jobs, "hw")
    b = run_torch(model, cfg["data"]["id"]["dataset"], cfg["data"]["ood"]["dataset"], args.T, args.limit)
    c = run_sim(args.config, args.T, args.limit, args.jobs, "reference")
    res = {"config": os.path.relpath(args.config, REPO), "T": args.T, "limit": args.limit, "jobs": args.jobs,
           "A_bayescim_s": a, "B_pytorch_s": b, "C_reference_s": c, "A_over_B": a / b, "A_over_C": a / c,
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
           "date": datetime.datetime.now().isoformat(timespec="seconds")}
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    out = os.path.join(REPO, "bench", "results",
                       f"{os.path.basename(args.config)[:-5]}-{datetime.date.today()}.json")
    with open(out + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
    os.replace(out + ".tmp", out)
    print(f"A bayescim {a:.2f} s | B PyTorch {b:.2f} s | C reference {c:.2f} s | A/B = {a / b:.2f} | "
          f"A/C = {a / c:.2f}  ({out})")


if __name__ == "__main__":
    main()
