"""VCD waveforms: the file parses, holds the expected signals, and its transitions say what the
run did (checked against samples.csv, report.json and the architecture's timing by hand)."""

import csv
import json
import math
import os

import pytest
import yaml

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
    # Every sample takes the same time g, except that the first also moves the image over the
    # interconnect (eq. N1: 1 + ceil(bits / width) clocks of 1 ns; the first layer reads
    # rows x bit_planes input bits). The report's latency per sample averages g + x / T, so the
    # layer-0 starts are g + x apart after the first sample and g after the others.
    with open(os.path.join(REPO_ROOT, "configs", "architectures", "stt_cim_512x128.yaml")) as f:
        width = yaml.safe_load(f)["interconnect"]["bits_per_cycle"]
    fc1 = rep["hardware"]["layers"][0]
    x_ps = (1 + math.ceil(fc1["rows"] * fc1["bit_planes"] / width)) * 1000
    g_ps = round(rep["latency"]["per_sample_s"] * 1e12 - x_ps / T)
    assert [b - a for a, b in zip(starts[::3], starts[3::3])] == [g_ps + x_ps] + [g_ps] * (T - 2)


def test_tracing_changes_nothing_but_the_files(traced, tmp_path):
    d, traced_rep, _ = traced
    run_sim("run", CONFIG, "--limit", "3", "--set", f"mc.samples={T}", "--set", f"model.path={pm1_model()}",
            "--out", str(tmp_path), "--quiet")
    assert not [f for f in os.listdir(tmp_path) if f.endswith((".vcd", ".gtkw"))]
    with open(tmp_path / "report.json") as f:
        rep = check_report(json.load(f))
    for k in ("metrics", "energy", "latency", "hardware"):
        assert rep[k] == traced_rep[k], k


# ------------------------------------------------------------------------------------------------
# The GTKWave save file. GTKWave looks a signal up by its scope path, its reference and, for a
# vector, the bit range the VCD declares after the reference (`image[31:0]`); a name without it
# finds nothing, and the group shows empty.

GTKW_HEX, GTKW_DEC, GTKW_BIN = 1 << 1, 1 << 2, 1 << 3
GTKW_ANALOG_STEP, GTKW_REAL = 1 << 15, 1 << 18


def vcd_declarations(path):
    """{name as GTKWave forms it: {'type', 'width'}} from the VCD header, parsed token by token."""
    with open(path) as f:
        header = f.read().partition("$enddefinitions")[0]
    toks, scope, out, i = header.split(), [], {}, 0
    while i < len(toks):
        if toks[i] == "$scope":
            scope.append(toks[i + 2])
        elif toks[i] == "$upscope":
            scope.pop()
        elif toks[i] == "$var":
            end = toks.index("$end", i)
            kind, width, ref, rest = toks[i + 1], int(toks[i + 2]), toks[i + 4], toks[i + 5:end]
            out[".".join(scope + [ref + "".join(rest)])] = {"type": kind, "width": width}
        i += 1
    return out


def parse_gtkw(path):
    """Directives ({'[size]': '1400 800', ...}), the zoom line's fields, and [(flags, signal)]."""
    directives, zoom, signals, flags = {}, None, [], None
    for line in open(path).read().splitlines():
        if line.startswith("[*]") or not line:
            continue
        if line.startswith("["):
            key, _, val = line.partition("] ")
            directives[key + "]"] = val
        elif line.startswith("*"):
            zoom = line[1:].split()
        elif line.startswith("@"):
            flags = int(line[1:], 16)
        elif line.startswith("-"):
            continue  # a group's title or a blank row
        else:
            signals.append((flags, line))
    return directives, zoom, signals


def test_gtkw_names_every_traced_signal_as_the_vcd_declares_it(traced):
    d, _, _ = traced
    decl = vcd_declarations(d / "run.vcd")
    assert any(v["width"] > 1 for v in decl.values()), "no vector signal traced"
    directives, zoom, signals = parse_gtkw(d / "run.gtkw")
    names = [n for _, n in signals]
    # Every name the save file lists is one GTKWave finds in the VCD, and every traced signal is there.
    assert [n for n in names if n not in decl] == []
    assert sorted(set(names)) == sorted(decl) and len(names) == len(decl)
    for flags, n in signals:
        v = decl[n]
        if v["type"] == "real":  # energies as analog steps
            assert flags & GTKW_REAL and flags & GTKW_ANALOG_STEP, n
        elif v["width"] == 1:
            assert flags & GTKW_BIN, n
        elif n.rsplit(".", 1)[1].split("[")[0] in ("image", "sample", "layer", "phase", "draws"):
            assert flags & GTKW_DEC, n  # counters in decimal, not 32 binary digits
        else:  # bit vectors: wordline enables, masks, SA outputs
            assert flags & GTKW_HEX, n
    assert directives["[dumpfile]"] == f'"{d / "run.vcd"}"'


def test_gtkw_opens_on_the_traced_window(traced):
    d, _, _ = traced
    _, ch = parse_vcd(d / "run.vcd")
    times = sorted({t for series in ch.values() for t, _ in series if t > 0})
    first, last = times[0], times[-1]
    directives, zoom, _ = parse_gtkw(d / "run.gtkw")
    assert int(directives["[timestart]"]) == first
    # GTKWave shows 2^-zoom time units per pixel (zoom base 2) over the wave pane: the window's
    # width less the signal pane. The window fits, and fills at least a third of the pane.
    width = int(directives["[size]"].split()[0]) - int(directives["[signals_width]"])
    span_shown = 2 ** (-float(zoom[0])) * width
    assert last - first <= span_shown <= 3 * (last - first), (first, last, span_shown)


def _phase_values(ch, c, layer):
    """(wordlines, dropout_mask) at the array-read phase of `layer` in each sample of the window."""
    value_at = lambda series, t: [v for (tt, v) in series if tt <= t][-1]
    out = []
    for t0, v in ch[c + "layer"]:
        if t0 == 0 or v != layer:
            continue
        t = [t for t, ph in ch[c + "phase"] if t >= t0 and ph == 2][0]
        out.append((value_at(ch[c + "wordlines"], t), value_at(ch[c + "dropout_mask"], t)))
    return out


def test_mc_dropout_masks_gate_the_wordlines(tmp_path):
    """Per-neuron dropout on fc2's 512 inputs: draw r of the first position gates row r, so the
    enables of rows 0..63 are the complement of the mask's first 64 draws in every sample."""
    T8 = 8
    run_sim("run", CONFIG, "--limit", "1", "--set", f"mc.samples={T8}", "--set", "model.dropout.kind=mc_dropout",
            "--set", "model.dropout.p=0.3", "--vcd", str(tmp_path / "run.vcd"), "--out", str(tmp_path), "--quiet")
    _, ch = parse_vcd(tmp_path / "run.vcd")
    got = _phase_values(ch, "SystemC.accelerator.controller.", 1)
    assert len(got) == T8
    full = 2**64 - 1
    assert all(wl == full & ~mask for wl, mask in got), got
    drops = sum(bin(m).count("1") for _, m in got)
    # 8 x 64 draws at p = 0.3: 154 expected; 5 sigma either side (sigma = sqrt(512 * 0.3 * 0.7) = 10.4).
    assert 154 - 52 <= drops <= 154 + 52, drops
    assert len({m for _, m in got}) == T8  # a fresh mask every sample


def test_spatial_masks_gate_whole_channels(tmp_path):
    """Spatial dropout on conv2 (3x3 kernels): a dropped channel c gates its K*K = 9 consecutive
    rows 9c..9c+8 (docs: the row order is channel-major); kept channels show the padding pattern of
    the first (corner) position, the same for every channel."""
    cfg = os.path.join(REPO_ROOT, "configs", "experiments", "fashion_cnn_spatial.yaml")
    T8 = 8
    run_sim("run", cfg, "--limit", "1", "--set", f"mc.samples={T8}", "--set", "model.dropout.p=0.3",
            "--vcd", str(tmp_path / "run.vcd"), "--out", str(tmp_path), "--quiet")
    _, ch = parse_vcd(tmp_path / "run.vcd")
    got = _phase_values(ch, "SystemC.accelerator.controller.", 1)
    assert len(got) == T8
    kept_patterns, dropped = set(), 0
    for wl, mask in got:
        for c in range(7):  # channels whose 9 rows lie within rows 0..63
            rows = (wl >> (9 * c)) & 0x1FF
            if (mask >> c) & 1:
                assert rows == 0, (c, hex(wl), hex(mask))
                dropped += 1
            else:
                kept_patterns.add(rows)
    assert dropped > 0 and len(kept_patterns) == 1 and kept_patterns != {0}, (dropped, kept_patterns)


CNN_CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "fashion_cnn_spatial.yaml")


def _window_span(vcd):
    _, ch = parse_vcd(vcd)
    times = [t for series in ch.values() for t, _ in series if t > 0]
    return max(times) - min(times)


@pytest.mark.parametrize("config,kind", [(CONFIG, "none"), (CONFIG, "scale"), (CONFIG, "mc_dropout"),
                                         (CNN_CONFIG, "spatial")], ids=["none", "scale", "mc_dropout", "spatial"])
def test_tracing_changes_no_number_pipelined_or_not(config, kind, tmp_path):
    """The VCD window (here two images) runs exactly as untraced images do: with and without the
    MC-sample pipeline, and pipelined across images in windows of 2 (`images`: the two traced
    images share a window with each other, the third ID image with the first OOD image), the
    report's numbers are the same with the VCD on or off; and the pipelined window is shorter,
    because the waveform shows the overlapped samples (and, across images, the overlapped images)."""
    spans = {}
    for pipe in ("false", "true", "images"):
        reps = {}
        for traced in (False, True):
            out = tmp_path / f"{pipe}-{traced}"
            args = ["run", config, "--limit", "3", "--set", "mc.samples=3", "--set", f"model.dropout.kind={kind}",
                    "--set", f"hardware.architecture.mapping.pipeline_samples={'false' if pipe == 'false' else 'true'}",
                    "--set", f"hardware.architecture.mapping.pipeline_images={2 if pipe == 'images' else 1}",
                    "--set", "trace.images=2", "--out", str(out), "--quiet"]
            if traced:
                args += ["--vcd", str(out / "run.vcd")]
            run_sim(*args)
            with open(out / "report.json") as f:
                reps[traced] = check_report(json.load(f))
        for k in ("metrics", "energy", "latency", "hardware", "area"):
            assert reps[True][k] == reps[False][k], (kind, pipe, k)
        spans[pipe] = _window_span(tmp_path / f"{pipe}-True" / "run.vcd")
    assert spans["images"] < spans["true"] < spans["false"], spans


def test_resource_busy_and_stall_lines(traced):
    """The timing model's resources have busy and stall lines: fc1's read engine is busy once per
    traced sample (as its tile_0 is), the shared dropout unit once per layer and sample (one bit
    per layer under Scale-Dropout), and fc1's engine stalls for its bit before every read phase
    (at least the cycle of arbitration), its stall line low while it reads."""
    d, rep, _ = traced
    _, ch = parse_vcd(d / "run.vcd")
    tm = "SystemC.accelerator.controller.timing."
    for r in rep["resources"]:
        n = r["name"].replace(".", "_")
        assert tm + n + "_busy" in ch and tm + n + "_stall" in ch, n
    rises = lambda name: [t for t, v in ch[name] if v == 1]
    busy = rises(tm + "fc1_arrays_busy")
    assert busy and len(busy) == len(rises("SystemC.accelerator.tile_0.busy"))
    assert len(rises(tm + "dropout_unit_busy")) == 3 * len(busy)
    stall = ch[tm + "fc1_arrays_stall"]
    for t in busy:
        before = [v for u, v in stall if u < t]
        at = [v for u, v in stall if u == t]
        assert 1 in before and at[-1] == 0
