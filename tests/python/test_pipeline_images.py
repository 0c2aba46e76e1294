"""Pipelining across images (issue 21 item 2, `hardware.architecture.mapping.pipeline_images`)
through the `bayescim` CLI: windows of N consecutive images pipelined back to back, drained at each
window's end. The report is the same for any --jobs (workers split only between whole windows),
throughput rises against N = 1, the mean image latency is at least the per-image share of the
simulated time, and N > 1 without pipeline_samples is an input error naming both keys."""

import os

from tests.harness import REPO_ROOT, check_report, read_report, run_sim

MLP = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
MAP = "hardware.architecture.mapping."
TIMEOUT = 300


def run(tmp_path, name, images, jobs=1, samples=2, limit=6, pipeline_samples=True):
    out = tmp_path / name
    run_sim("run", MLP, "--limit", str(limit), "--set", f"mc.samples={samples}", "--quiet", "--out", str(out),
            "--jobs", str(jobs), "--set", f"{MAP}pipeline_samples={'true' if pipeline_samples else 'false'}",
            "--set", f"{MAP}pipeline_images={images}", timeout=TIMEOUT)
    return check_report(read_report(out)), out


def comparable(rep):
    rep = dict(rep)
    rep.pop("wall_s", None), rep.pop("timing", None)
    rep["config"] = dict(rep["config"])
    rep["config"]["output"] = dict(rep["config"]["output"])
    rep["config"]["output"].pop("dir")
    return rep


def test_same_report_for_one_and_two_workers(tmp_path):
    """6 ID + 6 OOD images in windows of 4 (the second window mixes ID and OOD): two workers take
    whole windows (images 0-3 and 4-11; an even split of the images at 6 would cut the second
    window and change its times), and the report does not change."""
    r1, o1 = run(tmp_path, "j1", 4, jobs=1)
    r2, o2 = run(tmp_path, "j2", 4, jobs=2)
    assert r2["timing"]["workers"] == 2
    assert comparable(r1) == comparable(r2)
    assert (o1 / "predictions.csv").read_bytes() == (o2 / "predictions.csv").read_bytes()


def test_throughput_rises_and_predictions_do_not_change(tmp_path):
    """The overlap of images shortens the simulated time (throughput up), not the work: counts,
    predictions and every energy but the leakage (per array-picosecond) are those of N = 1. An image's latency (first sample in, last sample
    out) is never below the simulated time per image once images overlap."""
    base, ob = run(tmp_path, "n1", 1)
    pipe, op = run(tmp_path, "n4", 4)
    lb, lp = base["latency"], pipe["latency"]
    assert lp["throughput_inferences_per_s"] > lb["throughput_inferences_per_s"] * 1.01
    assert lp["inference_time_s"] < lb["inference_time_s"]
    images = pipe["data"]["id"]["images"] + pipe["data"]["ood"]["images"]
    assert lp["throughput_inferences_per_s"] * lp["inference_time_s"] == images or \
        abs(lp["throughput_inferences_per_s"] * lp["inference_time_s"] - images) < 1e-9 * images
    # N = 1: an image's latency is its share of the time; N > 1: images overlap, so the mean
    # latency exceeds time / images.
    assert abs(lb["per_inference_s"] - lb["inference_time_s"] / images) <= 1e-12 * lb["per_inference_s"]
    assert lp["per_inference_s"] > lp["inference_time_s"] / images
    eb, ep = dict(base["energy"]["by_component"]), dict(pipe["energy"]["by_component"])
    assert ep.pop("leakage") < eb.pop("leakage")
    assert ep == eb
    assert pipe["hardware"]["counts"] == base["hardware"]["counts"]
    assert (ob / "predictions.csv").read_bytes() == (op / "predictions.csv").read_bytes()


def test_images_without_samples_is_an_error_naming_both_keys(tmp_path):
    p = run_sim("run", MLP, "--limit", "2", "--quiet", "--out", str(tmp_path / "x"),
                "--set", f"{MAP}pipeline_images=8", check=False, timeout=TIMEOUT)
    assert p.returncode == 1
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert f"'{MAP}pipeline_images'" in err and f"'{MAP}pipeline_samples'" in err, err
    assert not (tmp_path / "x" / "report.json").exists()
