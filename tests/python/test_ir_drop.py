"""IR drop on the analog read path (docs/hardware.md, "IR drop and the sense node", eq. IR1-IR6):
the shipped sweep configs/sweeps/rows_per_read_ir.yaml run tiny (20 + 20 images, T = 2), then the
directions the physics fixes. The wire's resistance lowers every analog read's column current
(eq. IR5: I = V_cell G / (1 + R_eff G) < V_cell G), so the crossbar read energy V_read I t falls,
and it falls by a larger fraction the more rows a read raises (R_eff G grows about as n^2: longer
wire and more current on it). The ideal path never sees it."""

import csv
import json
import os

from tests.harness import CONFIG, REPO_ROOT, read_report, run_sim, run_sweep

SPEC = os.path.join(REPO_ROOT, "configs", "sweeps", "rows_per_read_ir.yaml")
ARCH = "hardware.architecture."
RPR = ARCH + "array.rows_per_read"
WIRE = ARCH + "array.wire_ohm_per_cell"


def test_shipped_rows_per_read_sweep_sees_the_ir_drop(tmp_path):
    out = tmp_path / "sweep"
    p = run_sweep("run", SPEC, "--out", out, "--set", "data.limit=20", "--set", "mc.samples=2", "--workers", "2",
                  "--no-plots", "--quiet", timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(out / "results.csv") as f:
        rows = [r for r in csv.DictReader(f)]
    assert len(rows) == 10 and all(r["status"] == "ok" for r in rows), rows
    read = {(int(r[RPR]), float(r[WIRE])): float(r["energy.per_inference_by_component.crossbar_read"]) for r in rows}
    loss = {}
    for n in (4, 8, 16, 32, 64):
        assert read[(n, 1.16)] < read[(n, 0.0)], f"rows_per_read {n}: the wire must lower the read current"
        loss[n] = 1 - read[(n, 1.16)] / read[(n, 0.0)]
    # Longer groups lose more (the same reads at every rows_per_read: the same images and devices).
    assert loss[4] < loss[16] < loss[64], loss
    # The far cell of 64 P cells at 33 uA over 1.16 ohm segments: 64 * 65 / 2 cell currents, 80 mV of
    # the 100 mV: the currents fall by tens of percent, the shortest groups by well under one.
    assert loss[64] > 0.1 and loss[4] < 0.01, loss
    # The report's worst-case drop (eq. IR6) at 16 rows: 16 * 17 / 2 = 136 cell currents of
    # 0.1 V / 3 kOhm over 1.16 ohm each; none without the wire.
    for r in rows:
        if int(r[RPR]) == 16:
            with open(out / "points" / r["point"] / "report.json") as f:
                drop = json.load(f)["hardware"]["operating_point"]["ir_drop_max_V"]
            want = 136 * 1.16 * 0.1 / 3000 if float(r[WIRE]) > 0 else 0.0
            assert abs(drop - want) < 1e-9, (r["point"], drop, want)


def test_ideal_devices_do_not_see_the_wire(tmp_path):
    """IR drop is a non-ideality of the analog path only: with ideal devices a large wire changes
    neither a prediction nor an energy."""
    reps = []
    for wire in (0.0, 50.0):
        out = tmp_path / f"w{wire}"
        run_sim("run", CONFIG, "--quiet", "--limit", "20", "--set", "mc.samples=2", "--set", f"{WIRE}={wire}",
                "--out", out, timeout=300)
        reps.append(read_report(out))
    assert reps[0]["metrics"] == reps[1]["metrics"]
    assert reps[0]["energy"]["by_component"] == reps[1]["energy"]["by_component"]


def test_calibrated_references_read_through_the_wire(tmp_path):
    """eq. IR7 at simulator level: devices on the analog path with next to no variation
    (sigma(ln R_P) = 1e-9) and the shipped wire (1.16 ohm per cell). With the references calibrated
    (the shipped setting) every 16-row read decodes its exact count, so every prediction equals the
    ideal devices' run; with nominal references (the lossless line) reads come out low and the
    predictions move."""
    def run(name, *sets):
        out = tmp_path / name
        args = ["run", CONFIG, "--quiet", "--limit", "20", "--set", "mc.samples=2", "--out", out]
        for s in sets:
            args += ["--set", s]
        run_sim(*args, timeout=300)
        with open(out / "predictions.csv") as f:
            return read_report(out), f.read()
    ideal, ideal_pred = run("ideal")
    analog = ("hardware.device.variation.r_p_sigma_log=1e-9", f"{WIRE}=1.16")
    cal, cal_pred = run("calibrated", *analog, ARCH + "sense_amp.references=calibrated")
    nom, nom_pred = run("nominal", *analog, ARCH + "sense_amp.references=nominal")
    assert cal["hardware"]["operating_point"]["ir_drop_max_V"] > 0.005  # the wire is on (eq. IR6: 5.26 mV)
    assert cal_pred == ideal_pred
    assert cal["metrics"]["id"]["accuracy"] == ideal["metrics"]["id"]["accuracy"]
    assert nom_pred != ideal_pred
    # The wire takes current away, so the read energy (V_read I t) is below the ideal devices' one.
    assert cal["energy"]["by_component"]["crossbar_read"] < ideal["energy"]["by_component"]["crossbar_read"]


def test_calibrated_references_follow_the_population_mean(tmp_path):
    """eq. X4: a lognormal spread of R_P (median kept) raises the mean cell conductance by
    e^{sigma^2/2} (2 % at sigma 0.2), about half an LSB over a 16-row group; references at the
    nominal line then read every group high and the MLP falls far, while references trimmed to the
    population's mean conductance keep it within a few points of the ideal devices. No wire here,
    so only the variation acts. The shipped MLP reads its 8-bit pixels bit-serially: a plane's
    read has only the rows of its 1 bits on (about 11 % on MNIST), so fc1 sees a fraction of the
    drift and the fall is smaller than with +-1 inputs (on 100 images: 0.96 calibrated, 0.88
    nominal, when the +-1-input model fell by more than 0.3)."""
    def acc(name, *sets):
        out = tmp_path / name
        args = ["run", CONFIG, "--quiet", "--limit", "100", "--set", "mc.samples=2", "--set", "data.ood=null",
                "--set", f"{WIRE}=0", "--out", out]
        for s in sets:
            args += ["--set", s]
        run_sim(*args, timeout=300)
        return read_report(out)["metrics"]["id"]["accuracy"]
    ideal = acc("ideal")
    sigma = "hardware.device.variation.r_p_sigma_log=0.2"
    cal = acc("calibrated", sigma, ARCH + "sense_amp.references=calibrated")
    nom = acc("nominal", sigma, ARCH + "sense_amp.references=nominal")
    assert cal >= ideal - 0.05, (cal, ideal)
    assert nom <= cal - 0.05, (nom, cal)
