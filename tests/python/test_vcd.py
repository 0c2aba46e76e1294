"""VCD waveforms: the file parses, holds the expected signals, and its transitions say what the
run did (checked against samples.csv, report.json and the architecture's timing by hand)."""

import csv
import json
import os

import pytest

from tests.harness import REPO_ROOT, check_report, pm1_model, run_sim

CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
T = 4


def parse_vcd(path):
    """Minimal VCD reader: {full signal name: [(time, value)]} and the timescale."""
    with open(path) as f:
        text = f.read()
    header, _, body = text.partition("$enddefinitions")
    assert body, "no $enddefinitions"
    ids, scope, toks = {}, [], header.split()
    i = 0
    timescale = None
    while i < len(toks):
        t = toks[i]
        if t == "$timescale":
            timescale = " ".join(toks[i + 1:toks.index("$end", i)])
        elif t == "$scope":
            scope.append(toks[i + 2])
        elif t == "$upscope":
            scope.pop()
        elif t == "$var":
            ids[toks[i + 3]] = ".".join(scope + [toks[i + 4]])
        i += 1
    changes = {name: [] for name in ids.values()}
    now, in_comment = 0, False
    for line in body.splitlines()[1:]:
        line = line.strip()
        if line.startswith("$comment"):
            in_comment = True
        if in_comment:
            in_comment = not line.endswith("$end")
            continue
        if not line or line.startswith("$"):
            continue
        if line.startswith("#"):
            now = int(line[1:])
        elif line[0] in "br":
            val, ident = line[1:].split()
            changes[ids[ident]].append((now, int(val, 2) if line[0] == "b" else float(val)))
        else:
            changes[ids[line[1:]]].append((now, int(line[0])))
    return timescale, changes


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    d = tmp_path_factory.mktemp("vcd")
    run_sim("run", CONFIG, "--limit", "3", "--set", f"mc.samples={T}", "--samples-csv", "--set", f"model.path={pm1_model()}",
            "--vcd", str(d / "run.vcd"), "--out", str(d), "--quiet")
    with open(d / "report.json") as f:
        rep = check_report(json.load(f))
    with open(d / "samples.csv") as f:
        samples = list(csv.DictReader(f))
    return d, rep, samples


def test_vcd_parses_and_has_the_signals(traced):
    d, rep, _ = traced
    timescale, ch = parse_vcd(d / "run.vcd")
    assert timescale == "1 ps"
    top = "SystemC.accelerator."
    for s in ["controller.layer", "controller.sample", "controller.phase", "controller.wordlines",
              "controller.dropout_mask", "controller.scale_select", "dropout.bits", "dropout.draws",
              "dropout.energy_J", "tile_0.busy", "tile_0.sa_out", "tile_0.energy_J"]:
        assert top + s in ch, s
    assert sum(1 for n in ch if n.endswith(".busy")) == rep["hardware"]["arrays"]
    gtkw = (d / "run.gtkw").read_text()
    assert f'[dumpfile] "{d / "run.vcd"}"' in gtkw and top + "dropout.bits" in gtkw
    assert not [f for f in os.listdir(d) if ".tmp." in f]


def test_transitions_follow_the_run(traced):
    d, rep, samples = traced
    _, ch = parse_vcd(d / "run.vcd")
    c = "SystemC.accelerator.controller."
    # The window is the first image: T samples back to back, each running layers 0, 1, 2, then
    # idle (-1 as a 32-bit vector). Time-0 entries are the initial dump.
    idle = 2**32 - 1
    layers = [v for t, v in ch[c + "layer"] if t > 0]
    assert layers == [0, 1, 2] * T + [idle]
    assert [v for t, v in ch[c + "sample"] if t > 0] == list(range(T))
    # The select line carries the shared unit's bit of each layer: equal to samples.csv's bits.
    bits = [r["bits"] for r in samples if r["split"] == "id" and r["index"] == "0"]
    assert len(bits) == T
    starts = [t for t, v in ch[c + "layer"] if t > 0 and v != idle]
    sel = ch[c + "scale_select"]
    value_at = lambda series, t: [v for (tt, v) in series if tt <= t][-1]
    seen = []
    for k, t0 in enumerate(starts):
        phase_read = [t for t, v in ch[c + "phase"] if t >= t0 and v == 2][0]
        seen.append(str(value_at(sel, phase_read) if sel else 0))
    assert "".join(seen) == "".join(bits)
    # Shared unit: one draw per layer per sample inside the window.
    assert ch["SystemC.accelerator.dropout.draws"][-1][1] == 3 * T
    # tile_0 (fc1 rows 0..511, ADC path): 512 / 16 = 32 reads, each 1.66 ns + 8 conversions of 2 ns
    # on each of the 16 ADCs (8 columns per ADC): 32 x 17.66 ns = 565.12 ns.
    busy = ch["SystemC.accelerator.tile_0.busy"]
    rises = [t for t, v in busy if v == 1]
    falls = [t for t, v in busy if v == 0 and t > 0]
    assert len(rises) == T and len(falls) == T
    assert all(f - r == 565120 for r, f in zip(rises, falls))
    # One sample lasts the report's latency per sample (same for every sample here: sum of
    # annotated delays), so the layer-0 starts are that far apart.
    per_sample_ps = round(rep["latency"]["per_sample_s"] * 1e12)
    assert [b - a for a, b in zip(starts[::3], starts[3::3])] == [per_sample_ps] * (T - 1)


def test_tracing_changes_nothing_but_the_files(traced, tmp_path):
    d, traced_rep, _ = traced
    run_sim("run", CONFIG, "--limit", "3", "--set", f"mc.samples={T}", "--set", f"model.path={pm1_model()}",
            "--out", str(tmp_path), "--quiet")
    assert not [f for f in os.listdir(tmp_path) if f.endswith((".vcd", ".gtkw"))]
    with open(tmp_path / "report.json") as f:
        rep = check_report(json.load(f))
    for k in ("metrics", "energy", "latency", "hardware"):
        assert rep[k] == traced_rep[k], k
