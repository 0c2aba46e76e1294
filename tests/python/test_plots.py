"""`bayescim run --plots` and sim/plots.py: the PNGs are written beside the report with real
content, plots that the run cannot have (no energy for the reference engine, no OOD set) are
skipped with a reason and leave no stale file, and failures are clear (plot script exit 1 on a
missing report, bayescim exit 3 when plotting fails)."""

import json
import os
import struct

import numpy as np
import pytest

from tests.harness import PY, REPO_ROOT, check_report, run, run_sim as run_bayescim

CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
SCRIPT = os.path.join(REPO_ROOT, "sim", "plots.py")
ALL = ("reliability.png", "entropy_id_ood.png", "energy.png", "latency.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def env(**extra):
    e = {k: v for k, v in os.environ.items() if k != "BAYESCIM_PLOTS_SCRIPT"}
    e["SYSTEMC_DISABLE_COPYRIGHT_MESSAGE"] = "1"
    e.update(extra)
    return e


def run_sim(out, *args, check=True, **extra_env):
    p = run_bayescim("run", CONFIG, "--limit", "80", "--set", "mc.samples=3", "--quiet", "--out", str(out),
                     "--plots", *args, check=False, env=env(**extra_env))
    if check:
        assert p.returncode == 0, f"bayescim --plots failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr}"
    return p


def run_script(*args):
    return run([PY, SCRIPT, *map(str, args)], env=env())


def check_png(path):
    """A valid PNG of a real figure: signature, IHDR size, several KB, and not a blank canvas."""
    data = open(path, "rb").read()
    assert data[:8] == PNG_SIGNATURE, f"{path}: not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 400 and height >= 250, f"{path}: {width}x{height}"
    assert len(data) > 15_000, f"{path}: only {len(data)} bytes"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    img = mpimg.imread(path)[..., :3]
    colours = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50, f"{path}: only {len(colours)} distinct colours"
    assert (img.min(axis=2) < 0.9).mean() > 0.02, f"{path}: almost nothing drawn"
    return width, height


@pytest.fixture(scope="module")
def hw_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "hw"
    p = run_sim(out)
    check_report(out / "report.json")
    return out, p


def test_plots_flag_writes_every_png_beside_the_report(hw_run):
    out, p = hw_run
    for name in ALL:
        check_png(out / name)
        assert f"plots: wrote {out / name}" in p.stdout
    assert "skipped" not in p.stdout
    # Atomic writes leave no temporary files behind.
    assert sorted(f for f in os.listdir(out) if f.startswith(".") or "tmp" in f) == []


def test_plots_script_rerun_in_place_is_idempotent(hw_run):
    out, _ = hw_run
    before = {n: (out / n).stat().st_size for n in ALL}
    p = run_script(out)
    assert p.returncode == 0, p.stderr
    for n in ALL:
        assert abs((out / n).stat().st_size - before[n]) < 0.05 * before[n]


def test_reference_engine_skips_energy_and_latency(tmp_path):
    out = tmp_path / "ref"
    p = run_sim(out, "--set", "experiment.engine=reference")
    check_png(out / "reliability.png")
    check_png(out / "entropy_id_ood.png")
    assert not (out / "energy.png").exists() and not (out / "latency.png").exists()
    assert "plots: skipped energy.png: engine 'reference' has no energy" in p.stdout
    assert "plots: skipped latency.png: engine 'reference' has no latency" in p.stdout


def test_no_ood_skips_the_histograms_and_removes_a_stale_one(tmp_path, hw_run):
    out = tmp_path / "noood"
    out.mkdir()
    # A picture left by an earlier run in the same folder must not survive beside the new report.
    (out / "entropy_id_ood.png").write_bytes((hw_run[0] / "entropy_id_ood.png").read_bytes())
    p = run_sim(out, "--set", "data.ood=null")
    assert not (out / "entropy_id_ood.png").exists()
    assert "plots: skipped entropy_id_ood.png: no OOD set in this run (metrics.ood is null)" in p.stdout
    assert "removed the stale file" in p.stdout
    for name in ("reliability.png", "energy.png", "latency.png"):
        check_png(out / name)


def test_other_dropout_kinds_plot(tmp_path):
    out = tmp_path / "mcd"
    run_sim(out, "--set", "model.dropout.kind=mc_dropout", "--set", "hardware.dropout_device.pipelined=true")
    for name in ALL:
        check_png(out / name)


def test_plot_script_fails_clearly_on_a_missing_report(tmp_path):
    p = run_script(tmp_path)
    assert p.returncode == 1
    assert f"plots.py: error: {tmp_path / 'report.json'}: file does not exist" in p.stderr
    assert "Traceback" not in p.stderr
    p = run_script(tmp_path / "nowhere")
    assert p.returncode == 1 and "no such output folder" in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_plot_script_fails_clearly_on_bad_inputs(tmp_path, hw_run):
    (tmp_path / "report.json").write_text("{not json")
    p = run_script(tmp_path)
    assert p.returncode == 1 and "report.json: not valid JSON" in p.stderr and "Traceback" not in p.stderr
    rep = json.loads((hw_run[0] / "report.json").read_text())
    (tmp_path / "report.json").write_text(json.dumps(rep))  # OOD in the report, but no predictions.csv
    p = run_script(tmp_path)
    assert p.returncode == 1 and "predictions.csv: file does not exist" in p.stderr
    del rep["metrics"]["id"]["reliability"][0]["count"]
    (tmp_path / "report.json").write_text(json.dumps(rep))
    p = run_script(tmp_path)
    assert p.returncode == 1 and "unexpected content" in p.stderr and "Traceback" not in p.stderr
    p = run_script()
    assert p.returncode == 2 and "usage" in p.stderr


def test_plotting_failure_fails_the_run_with_exit_code_3(tmp_path):
    p = run_sim(tmp_path / "a", check=False, BAYESCIM_PLOTS_SCRIPT=str(tmp_path / "missing.py"))
    assert p.returncode == 3
    assert "bayescim: error: --plots: plotting failed" in p.stderr and "missing.py does not exist" in p.stderr
    assert (tmp_path / "a" / "report.json").exists()  # the reports are written before plotting
    failing = tmp_path / "failing.py"
    failing.write_text("import sys\nsys.exit(5)\n")
    p = run_sim(tmp_path / "b", check=False, BAYESCIM_PLOTS_SCRIPT=str(failing))
    assert p.returncode == 3 and "failed (exit code 5)" in p.stderr


def test_without_the_flag_no_plots_are_written(tmp_path):
    out = tmp_path / "plain"
    run_bayescim("run", CONFIG, "--limit", "10", "--set", "mc.samples=1", "--quiet", "--out", str(out), env=env())
    assert not any(f.endswith(".png") for f in os.listdir(out))
