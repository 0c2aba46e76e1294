"""Issue #18 item 4: the per-cell read and write energies the simulator charges for the shipped
NVSim device, against NVSim's own figures for the same cell.

NVSim's sample_STTRAM.cell (SEAL-UCSB/NVSim, commit 6e3d070e) gives ReadVoltage 0.25 V,
VoltageDropAccessDevice 0.15 V, R_on 3 kOhm, R_off 6 kOhm, ReadPower 30 uW, Set/ResetCurrent
80 uA for 10 ns and Set/ResetEnergy 1 pJ. NVSim's SubArray::CalculatePower charges a sensed bit
2 x ReadPower x t_SA (the 2 for the reference cell). The shipped architecture's read pulse is the
NVSim 22 nm run's read latency, 1.66 ns, of which the sense amplifier takes 1.45 ns (its comment).

The simulator's figures are recovered from report.json alone: with every MTJ stuck in P (or AP)
each conducting branch has the nominal G_P (G_AP), so the crossbar read energy divided by the
number of conducting branches (one per binary MAC: a 2T-2MTJ row conducts one MTJ per column)
is the energy per cell read; the programming energy divided by the write pulses is the energy
per write. The expected values are derived here from the documented equations (docs/hardware.md:
eq. X0, X1, E0 and W1), from the device and architecture files."""

import os

import pytest
import yaml

from tests.harness import CONFIG, REPO_ROOT, analog_read_rounding_J, pm1_model, read_report, run_sim

DEVICE = os.path.join(REPO_ROOT, "configs", "devices", "nvsim_sttram.yaml")
ARCH = os.path.join(REPO_ROOT, "configs", "architectures", "stt_cim_512x128.yaml")

# NVSim sample_STTRAM.cell (commit 6e3d070e), verbatim values.
NVSIM_READ_POWER_W = 30e-6
NVSIM_READ_VOLTAGE_V = 0.25
NVSIM_SET_ENERGY_J = 1e-12
NVSIM_WRITE_CURRENT_A = 80e-6
NVSIM_WRITE_PULSE_S = 10e-9
NVSIM_T_SA_S = 1.45e-9  # sense-amplifier latency of the NVSim 22 nm 512x128 run (architecture file)
# The older stored version of the cell (commit 4bc8fbb3): 40.82 uA for 5 ns, 0.193895 pJ, 6/12 kOhm.
NVSIM_OLD = dict(current=40.82e-6, pulse=5e-9, energy=0.193895e-12, r_off=12e3)

MLP_MACS = 784 * 512 + 512 * 512 + 512 * 10  # the shipped MLP, one forward pass
IMAGES = 3


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def files():
    return load(DEVICE), load(ARCH)


def run(out, *sets):
    args = ["run", CONFIG, "--limit", str(IMAGES), "--quiet", "--out", str(out),
            "--set", "mc.samples=1", "--set", "model.dropout.kind=none", "--set", f"model.path={pm1_model()}"]
    for s in sets:
        args += ["--set", s]
    run_sim(*args)
    return read_report(out)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("nvsim")
    return {
        # One cell's energy: the bitline wire (IR drop, analog devices only) is taken out.
        "p": run(d / "p", "hardware.device.faults.stuck_at_p_rate=1", "hardware.architecture.array.wire_ohm_per_cell=0"),
        "ap": run(d / "ap", "hardware.device.faults.stuck_at_ap_rate=1", "hardware.architecture.array.wire_ohm_per_cell=0"),
        "ideal": run(d / "ideal"),
    }


def per_cell_read(rep):
    """Crossbar read energy per conducting branch: one branch per MAC, MACs from the network."""
    # mc.samples = 1, no dropout: every row of every read is driven; the run reads the ID and the
    # OOD split, IMAGES each.
    images = rep["data"]["id"]["images"] + rep["data"]["ood"]["images"]
    assert images == 2 * IMAGES
    branches = MLP_MACS * images
    return rep["energy"]["by_component"]["crossbar_read"] / branches


def documented_read_energy(dev, arch, state):
    """eq. X0/X1/E0: the branch draws V_cell / R from the read supply V_read for t_read."""
    v_read = dev["read_voltage_V"]
    v_cell = v_read - dev["access_transistor_drop_V"]
    r = dev["r_p_ohm"] * (1.0 if state == "p" else 1.0 + dev["tmr"]) + dev["access_transistor_ohm"]
    return v_read * v_cell / r * arch["read_pulse_ns"] * 1e-9


@pytest.mark.parametrize("state", ["p", "ap"])
def test_read_energy_per_cell_follows_the_documented_equation(reports, files, state):
    dev, arch = files
    expected = documented_read_energy(dev, arch, state)
    rep = reports[state]
    branches = MLP_MACS * (rep["data"]["id"]["images"] + rep["data"]["ood"]["images"])
    assert per_cell_read(rep) == pytest.approx(expected, rel=1e-12, abs=analog_read_rounding_J(rep) / branches)
    # By hand for the shipped files: 0.25 V x 0.1 V / 3 kOhm x 1.66 ns = 13.83 fJ (P), 6.92 fJ (AP).
    assert expected == pytest.approx({"p": 13.833e-15, "ap": 6.917e-15}[state], rel=1e-3, abs=0)


def test_read_energy_against_nvsim_is_outside_2x_for_the_documented_reason(reports, files):
    """NVSim charges 2 x 30 uW x 1.45 ns = 87 fJ per sensed bit: 6.3x the simulator's P branch.
    The documented explanation (docs/hardware.md, "Against NVSim"): NVSim's ReadPower is a file
    input, not derived from the cell: 30 uW at 0.25 V is 120 uA, above the cell's 80 uA write
    current and 3.6x the 33 uA that (ReadVoltage - VoltageDropAccessDevice) / R_on gives, and NVSim
    adds the reference cell (x2), which the simulator charges on the SA path only, as its own
    reference branch (sense_amp.reference_half_*)."""
    dev, arch = files
    sim_p = per_cell_read(reports["p"])
    nvsim = 2 * NVSIM_READ_POWER_W * NVSIM_T_SA_S
    assert nvsim == pytest.approx(87e-15, rel=1e-9, abs=0)
    ratio = nvsim / sim_p
    assert not 0.5 <= ratio <= 2.0, "inside 2x: update docs/hardware.md, Against NVSim"
    # The explanation's numbers.
    i_nvsim = NVSIM_READ_POWER_W / NVSIM_READ_VOLTAGE_V
    assert i_nvsim == pytest.approx(120e-6, rel=1e-12, abs=0)
    assert i_nvsim > dev["write_current_uA"] * 1e-6  # a read current above the write current
    i_cell = (dev["read_voltage_V"] - dev["access_transistor_drop_V"]) / dev["r_p_ohm"]
    assert i_nvsim / i_cell == pytest.approx(3.6, rel=1e-9, abs=0)
    # The ratio splits into those factors: 2 (reference) x 3.6 (current) x t_SA / t_read.
    t_read = arch["read_pulse_ns"] * 1e-9
    # (the simulator's energy is counted in whole 10 aJ per tile operation: analog_read_rounding_J)
    rep = reports["p"]
    rel = analog_read_rounding_J(rep) / rep["energy"]["by_component"]["crossbar_read"]
    assert ratio == pytest.approx(2 * (i_nvsim / i_cell) * NVSIM_T_SA_S / t_read, rel=rel + 1e-12, abs=0)
    # Run at the cell's own current (no reference cell, NVSim's pulse), the two agree within 2x.
    assert 0.5 <= dev["read_voltage_V"] * i_cell * NVSIM_T_SA_S / sim_p <= 2.0


def test_write_energy_is_the_supply_energy_and_within_2x_of_nvsim(reports, files):
    dev, _ = files
    rep = reports["ideal"]
    pulses = rep["hardware"]["counts"]["programming_write_pulses"]
    assert pulses == 2 * MLP_MACS  # without write_verify: one pulse per MTJ, two MTJs per weight
    per_write = rep["energy"]["programming_J"] / pulses
    # eq. W1: V_w I_w t_w, from the device file.
    expected = dev["write_voltage_V"] * dev["write_current_uA"] * 1e-6 * dev["write_pulse_ns"] * 1e-9
    assert per_write == pytest.approx(expected, rel=1e-9, abs=0)
    assert expected == pytest.approx(0.64e-12, rel=1e-9, abs=0)  # 0.8 V x 80 uA x 10 ns
    assert 0.5 <= NVSIM_SET_ENERGY_J / per_write <= 2.0


def test_nvsim_write_energies_imply_a_supply_not_i2r():
    """The evidence for eq. W1: both stored versions of NVSim's cell give a write energy that is a
    current times a pulse times about 1 V, not I^2 R t (which is 5x to 10x smaller)."""
    v_now = NVSIM_SET_ENERGY_J / (NVSIM_WRITE_CURRENT_A * NVSIM_WRITE_PULSE_S)
    v_old = NVSIM_OLD["energy"] / (NVSIM_OLD["current"] * NVSIM_OLD["pulse"])
    assert v_now == pytest.approx(1.25, rel=1e-12)
    assert v_old == pytest.approx(0.95, abs=0.005)
    # I^2 R t at the AP resistance (the larger one) is far below either figure.
    i2r_now = NVSIM_WRITE_CURRENT_A ** 2 * 6e3 * NVSIM_WRITE_PULSE_S
    i2r_old = NVSIM_OLD["current"] ** 2 * NVSIM_OLD["r_off"] * NVSIM_OLD["pulse"]
    assert NVSIM_SET_ENERGY_J / i2r_now > 2.0
    assert NVSIM_OLD["energy"] / i2r_old > 1.9
