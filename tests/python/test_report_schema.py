"""report.json against its documented schema (docs/report-schema.json, JSON Schema 2020-12),
checked with Debian's python3-jsonschema through tests.harness.check_report (scripts/check_report.py).

The tests validate reports of several real runs (hw and reference engines, with and without an
OOD set, each dropout kind the shipped model takes, faults, --jobs 2) and every golden report
under tests/golden/, check that mutated reports are rejected with the offending path named, and
that the schema itself is valid against its meta-schema.

One report by hand: /usr/bin/python3 scripts/check_report.py out/<name>/report.json
"""

import copy
import glob
import json
import os
import re

import jsonschema
import pytest

from tests.harness import PY, REPO_ROOT, check_report, report_schema, run, run_sim as run_bayescim

SCHEMA_PATH = os.path.join(REPO_ROOT, "docs", "report-schema.json")
CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
CNN_CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "fashion_cnn_none.yaml")
CNN_MODEL = os.path.join(REPO_ROOT, "models", "pretrained", "fashion_cnn_none.onnx")
CHECK = os.path.join(REPO_ROOT, "scripts", "check_report.py")


def validate(report):
    return report_schema.report_errors(report)


# ----------------------------------------------------------------------------------------------
# The schema and the checker on their own


def test_schema_is_valid_against_its_meta_schema():
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and "metrics" in schema["required"]
    # The meta-schema check is real: a malformed schema is refused.
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema({"type": "objekt"})
    with pytest.raises(jsonschema.SchemaError):
        jsonschema.Draft202012Validator.check_schema({"required": "metrics"})


def test_every_local_ref_resolves():
    with open(SCHEMA_PATH) as f:
        text = f.read()
    schema = json.loads(text)
    for ref in set(re.findall(r'"\$ref": "#/\$defs/([a-z_]+)"', text)):
        assert ref in schema["$defs"], ref


def test_non_finite_numbers_are_rejected_in_parsed_reports():
    errors = report_schema.report_errors({"wall_s": float("nan"), "x": [1.0, float("inf")]})
    assert "$.wall_s: nan is not a JSON number" in errors
    assert "$.x[1]: inf is not a JSON number" in errors


# ----------------------------------------------------------------------------------------------
# Real reports

# name -> extra arguments (a leading config path replaces the default MLP experiment)
RUNS = {
    "hw": [],
    "reference": ["--set", "experiment.engine=reference"],
    "no_ood": ["--set", "data.ood=null"],
    "reference_no_ood": ["--set", "experiment.engine=reference", "--set", "data.ood=null"],
    "mc_dropout": ["--set", "model.dropout.kind=mc_dropout"],
    "no_dropout": ["--set", "model.dropout.kind=none"],
    "jobs2": ["--jobs", "2"],
    "gaussian_noise": ["--set", "data.corruption.kind=gaussian_noise", "--set", "data.corruption.strength=0.3"],
    "rotation_reference": ["--set", "data.corruption.kind=rotation", "--set", "data.corruption.strength=-20",
                           "--set", "experiment.engine=reference"],
    "faults": ["--set", "hardware.device.faults.write_error_rate=0.01",
               "--set", "hardware.device.faults.read_disturb_rate=0.001"],
    "cnn_spatial_pipelined": [CNN_CONFIG, "--limit", "8", "--set", "model.dropout.kind=spatial",
                              "--set", "model.dropout.p=0.2", "--set", "hardware.dropout_device.pipelined=true"],
}


def run_sim(out, *args):
    config = CONFIG
    if args and args[0].endswith(".yaml"):
        config, args = args[0], args[1:]
    run_bayescim("run", config, "--limit", "60", "--set", "mc.samples=3", "--quiet", "--out", str(out), *args)
    return os.path.join(str(out), "report.json")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("schema_runs")
    out = {}
    for name, args in RUNS.items():
        if args and args[0] == CNN_CONFIG and not os.path.exists(CNN_MODEL):
            continue  # the shipped CNN is not there yet
        path = run_sim(base / name, *args)
        with open(path) as f:
            out[name] = (path, json.load(f))
    return out


@pytest.mark.parametrize("run", list(RUNS))
def test_real_report_conforms(run, reports):
    if run not in reports:
        pytest.skip(f"{os.path.relpath(CNN_MODEL, REPO_ROOT)} is missing")
    path, rep = reports[run]
    check_report(path)
    # The runs cover what they are meant to cover.
    assert (rep["energy"] is None) == (rep["engine"] == "reference")
    assert (rep["metrics"]["ood"] is None) == ("ood" in run)


GOLDEN = sorted(glob.glob(os.path.join(REPO_ROOT, "tests", "golden", "*.json")))


@pytest.mark.parametrize("path", GOLDEN, ids=[os.path.relpath(p, REPO_ROOT) for p in GOLDEN])
def test_golden_report_conforms(path):
    """tests/golden/<experiment>.json are reports without the machine- and checkout-dependent keys
    (tests/golden/update.py drops wall_s, timing, config and model.path): put placeholders back."""
    with open(path) as f:
        rep = json.load(f)
    rep.setdefault("wall_s", 0.0)
    rep.setdefault("timing", {"wall_s": 0.0, "workers": 1})
    rep.setdefault("config", {"experiment": {}, "model": {}, "data": {}})
    if isinstance(rep.get("model"), dict):
        rep["model"].setdefault("path", "")
    check_report(rep)


def _delete(path):
    def f(r):
        *parents, last = path
        node = r
        for p in parents:
            node = node[p]
        del node[last]
    return f


def _set(path, value):
    def f(r):
        *parents, last = path
        node = r
        for p in parents:
            node = node[p]
        node[last] = value
    return f


# (run, mutation, a substring the error must contain: the JSON path, then jsonschema's words)
MUTATIONS = {
    "missing_top_level_key": ("hw", _delete(["metrics"]), "$: 'metrics' is a required property"),
    "missing_nested_key": ("hw", _delete(["metrics", "id", "accuracy"]), "$.metrics.id: 'accuracy' is a required property"),
    "missing_key_in_array_item": ("hw", _delete(["metrics", "id", "reliability", 3, "count"]),
                                  "$.metrics.id.reliability[3]: 'count' is a required property"),
    "missing_layer_key": ("hw", _delete(["hardware", "layers", 1, "latency_per_sample_s"]),
                          "$.hardware.layers[1]: 'latency_per_sample_s' is a required property"),
    "string_for_number": ("hw", _set(["energy", "total_J"], "4.6e-05"), "$.energy.total_J: '4.6e-05' is not of type 'number'"),
    "float_for_integer": ("hw", _set(["mc_samples"], 3.5), "$.mc_samples: 3.5 is not of type 'integer'"),
    "bool_for_integer": ("hw", _set(["hardware", "random_bits"], True), "$.hardware.random_bits: True is not of type 'integer'"),
    "null_for_number": ("hw", _set(["metrics", "id", "nll"], None), "$.metrics.id.nll: None is not of type 'number'"),
    "nan_for_number": ("hw", _set(["metrics", "id", "nll"], float("nan")), "$.metrics.id.nll: nan is not a JSON number"),
    "object_for_array": ("hw", _set(["hardware", "layers"], {}), "$.hardware.layers: {} is not of type 'array'"),
    "bad_enum": ("hw", _set(["hardware", "layers", 0, "sensing"], "comparator"),
                 "$.hardware.layers[0].sensing: 'comparator' is not one of"),
    "bad_engine": ("hw", _set(["engine"], "gpu"), "$.engine: 'gpu' is not one of"),
    "below_minimum": ("hw", _set(["metrics", "id", "accuracy"], -0.1), "$.metrics.id.accuracy: -0.1 is less than the minimum of 0"),
    "above_maximum": ("hw", _set(["metrics", "ood", "auroc_mi"], 1.5), "$.metrics.ood.auroc_mi: 1.5 is greater than the maximum of 1"),
    "negative_component_energy": ("hw", _set(["energy", "by_component", "adc"], -1.0),
                                  "$.energy.by_component.adc: -1.0 is less than the minimum of 0"),
    "undocumented_key": ("hw", _set(["hardware", "area_mm2"], 1.0), "$.hardware: Additional properties are not allowed ('area_mm2'"),
    "hw_without_energy": ("hw", _set(["energy"], None), "$.energy: None is not of type 'object'"),
    "hw_without_layers": ("hw", _delete(["hardware", "layers"]), "$.hardware: 'layers' is a required property"),
    "reference_with_energy": ("reference", _set(["energy"], {}), "$.energy: {} is not of type 'null'"),
    "reference_with_layers": ("reference", _set(["hardware", "layers"], []), "$.hardware.layers: False schema does not allow"),
    "ood_data_without_metrics": ("hw", _set(["metrics", "ood"], None), "$.metrics.ood: None is not of type 'object'"),
    "ood_metrics_without_data": ("no_ood", lambda r: r["metrics"].__setitem__("ood", {}),
                                 "$.metrics.ood: {} is not of type 'null'"),
    "missing_corruption": ("hw", _delete(["data", "id", "corruption"]), "$.data.id: 'corruption' is a required property"),
    "bad_corruption_kind": ("gaussian_noise", _set(["data", "id", "corruption", "kind"], "blur"),
                            "$.data.id.corruption.kind: 'blur' is not one of"),
    "missing_area_component": ("hw", _delete(["area", "by_component_mm2", "dropout_rng"]),
                               "$.area.by_component_mm2: 'dropout_rng' is a required property"),
    "missing_gating_area": ("hw", _delete(["area", "by_component_mm2", "dropout_gating"]),
                            "$.area.by_component_mm2: 'dropout_gating' is a required property"),
    "hw_without_dropout_circuits": ("hw", _delete(["hardware", "dropout_circuits"]),
                                    "$.hardware: 'dropout_circuits' is a required property"),
    "reference_with_dropout_circuits": ("reference", _set(["hardware", "dropout_circuits"], {}),
                                        "$.hardware.dropout_circuits: False schema does not allow"),
    "bad_dropout_layout": ("hw", _set(["model", "dropout", "layout"], "diagonal"),
                           "$.model.dropout.layout: 'diagonal' is not one of"),
    "missing_dropout_energy": ("hw", _delete(["energy", "dropout_J"]), "$.energy: 'dropout_J' is a required property"),
    "reference_with_area": ("reference", _set(["area"], {}), "$.area: {} is not of type 'null'"),
    "missing_dropout_draw_time": ("hw", _delete(["latency", "dropout_draws_per_inference_s"]),
                                  "$.latency: 'dropout_draws_per_inference_s' is a required property"),
    "missing_timing_workers": ("jobs2", _delete(["timing", "workers"]), "$.timing: 'workers' is a required property"),
    "missing_measured_dropout_p": ("hw", _delete(["hardware", "measured_rates", "dropout_p"]),
                                   "$.hardware.measured_rates: 'dropout_p' is a required property"),
    "hw_without_fault_rates": ("hw", _delete(["hardware", "measured_rates", "read_disturb_per_exposure"]),
                               "$.hardware.measured_rates: 'read_disturb_per_exposure' is a required property"),
    "reference_with_fault_rates": ("reference", lambda r: r["hardware"]["measured_rates"].__setitem__(
        "write_error_per_pulse", r["hardware"]["measured_rates"]["dropout_p"]),
        "$.hardware.measured_rates.write_error_per_pulse: False schema does not allow"),
    "interval_above_one": ("hw", _set(["hardware", "measured_rates", "dropout_p", "ci_upper"], 1.2),
                           "$.hardware.measured_rates.dropout_p.ci_upper: 1.2 is greater than the maximum of 1"),
    "other_confidence_level": ("hw", _set(["hardware", "measured_rates", "confidence_level"], 0.9),
                               "$.hardware.measured_rates.confidence_level: 0.95 was expected"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutated_report_is_rejected(name, reports):
    run, mutate, expected = MUTATIONS[name]
    rep = copy.deepcopy(reports[run][1])
    assert validate(rep) == []
    mutate(rep)
    errors = validate(rep)
    assert errors, f"{name}: the mutated report passed"
    assert any(expected in e for e in errors), f"{name}: expected an error containing {expected!r}, got {errors}"
    with pytest.raises(AssertionError, match="violates docs/report-schema.json"):
        check_report(rep)


def test_nan_written_as_json_constant_is_rejected(reports, tmp_path):
    text = json.dumps(reports["hw"][1]).replace('"nll": ', '"nll": NaN, "x": ', 1)
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="non-JSON constant NaN"):
        check_report(str(path))


def run_check(*paths):
    return run([PY, CHECK, *map(str, paths)], timeout=120)


def test_check_report_command(reports, tmp_path):
    good = reports["hw"][0]
    p = run_check(good)
    assert p.returncode == 0 and p.stdout == f"{good}: ok\n", p.stdout + p.stderr
    bad = copy.deepcopy(reports["hw"][1])
    del bad["metrics"]["id"]["accuracy"]
    bad["hardware"]["area_mm2"] = 1.0
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "nan.json").write_text(json.dumps(reports["hw"][1]).replace('"nll": ', '"nll": NaN, "x": ', 1))
    (tmp_path / "broken.json").write_text("{not json")
    p = run_check(good, tmp_path / "bad.json", tmp_path / "nan.json", tmp_path / "broken.json", tmp_path / "none.json")
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f"{good}: ok"
    assert lines[1] == f"{tmp_path / 'bad.json'}: 2 violation(s)"
    assert "$.metrics.id: 'accuracy' is a required property" in p.stdout
    assert "Additional properties are not allowed ('area_mm2' was unexpected)" in p.stdout
    assert "non-JSON constant NaN" in p.stdout and "broken.json: 1 violation(s)" in p.stdout
    assert "none.json: 1 violation(s)" in p.stdout and "Traceback" not in p.stderr
    p = run_check()
    assert p.returncode == 2 and "check_report.py" in p.stderr
