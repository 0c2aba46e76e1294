"""report.json against its documented schema (docs/report-schema.json).

There is no jsonschema package on the machine, so this file holds a small validator for the
subset of JSON Schema 2020-12 the schema uses (type, enum, const, required, properties,
additionalProperties, items, minItems, minimum, maximum, allOf, if/then/else, local $ref,
boolean schemas). A keyword it does not know is an error, never silently ignored.

The tests validate reports of several real runs (hw and reference engines, with and without an
OOD set, each dropout kind the shipped model takes, --jobs 2) and every golden report under
tests/golden/, and check that mutated reports are rejected with the offending path named.

Standalone: /usr/bin/python3 tests/python/test_report_schema.py out/<name>/report.json ...
"""

import copy
import glob
import json
import math
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_PATH = os.path.join(REPO_ROOT, "docs", "report-schema.json")
EXE = os.environ.get("BAYESCIM_EXE") or os.path.join(REPO_ROOT, "build", "bayescim")
CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
CNN_CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "fashion_cnn_none.yaml")
CNN_MODEL = os.path.join(REPO_ROOT, "models", "pretrained", "fashion_cnn_none.onnx")

# ----------------------------------------------------------------------------------------------
# The validator

ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs", "$comment", "examples", "default"}
KEYWORDS = {"type", "enum", "const", "required", "properties", "additionalProperties", "items", "minItems",
            "minimum", "maximum", "allOf", "if", "then", "else", "$ref"}
TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


class SchemaError(Exception):
    """The schema itself uses something this validator does not implement."""


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and (isinstance(x, int) or math.isfinite(x))


def _has_type(x, t):
    if t == "object":
        return isinstance(x, dict)
    if t == "array":
        return isinstance(x, list)
    if t == "string":
        return isinstance(x, str)
    if t == "boolean":
        return isinstance(x, bool)
    if t == "null":
        return x is None
    if t == "number":
        return _is_number(x)
    if t == "integer":  # JSON Schema: a number with no fractional part (620400.0 is an integer)
        return _is_number(x) and float(x).is_integer()
    raise SchemaError(f"unknown type '{t}'")


def _json_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _resolve(ref, root):
    if not ref.startswith("#/"):
        raise SchemaError(f"only local $ref are supported, got '{ref}'")
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(f"$ref '{ref}' does not resolve")
        node = node[part]
    return node


def check_schema(schema, root=None, where="#"):
    """Raises SchemaError if the schema uses a keyword or type the validator does not implement."""
    root = schema if root is None else root
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: a schema must be an object or a boolean")
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise SchemaError(f"{where}: unsupported keyword(s) {sorted(unknown)}")
    if "type" in schema:
        for t in schema["type"] if isinstance(schema["type"], list) else [schema["type"]]:
            if t not in TYPES:
                raise SchemaError(f"{where}: unknown type '{t}'")
    if "$ref" in schema:
        _resolve(schema["$ref"], root)
    for k in ("properties", "$defs"):
        for name, sub in schema.get(k, {}).items():
            check_schema(sub, root, f"{where}/{k}/{name}")
    for k in ("additionalProperties", "items", "if", "then", "else"):
        if k in schema:
            check_schema(schema[k], root, f"{where}/{k}")
    for i, sub in enumerate(schema.get("allOf", [])):
        check_schema(sub, root, f"{where}/allOf/{i}")


def validate(instance, schema, root=None, path="$"):
    """Returns the list of violations (empty if `instance` conforms), each naming its JSON path."""
    root = schema if root is None else root
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: not allowed here"]
    errors = []
    if "$ref" in schema:
        errors += validate(instance, _resolve(schema["$ref"], root), root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_has_type(instance, t) for t in types):
            got = "NaN/inf" if isinstance(instance, float) and not math.isfinite(instance) else type(instance).__name__
            if isinstance(instance, float) and math.isfinite(instance) and "integer" in types:
                got = f"non-integer number {instance!r}"
            return errors + [f"{path}: expected {' or '.join(types)}, got {got}"]
    if "enum" in schema and not any(_json_equal(instance, v) for v in schema["enum"]):
        errors.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if "const" in schema and not _json_equal(instance, schema["const"]):
        errors.append(f"{path}: expected {schema['const']!r}, got {instance!r}")
    if _is_number(instance):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: {instance!r} is below the minimum {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: {instance!r} is above the maximum {schema['maximum']}")
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing required key '{key}'")
        props = schema.get("properties", {})
        for key, value in instance.items():
            sub = f"{path}.{key}"
            if key in props:
                errors += validate(value, props[key], root, sub)
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    errors.append(f"{sub}: unexpected key (not in docs/report-schema.json: document it there)")
                else:
                    errors += validate(value, extra, root, sub)
    if isinstance(instance, list):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            errors.append(f"{path}: {len(instance)} item(s), at least {schema['minItems']} expected")
        if "items" in schema:
            for i, item in enumerate(instance):
                errors += validate(item, schema["items"], root, f"{path}[{i}]")
    for sub in schema.get("allOf", []):
        errors += validate(instance, sub, root, path)
    if "if" in schema:
        branch = "then" if not validate(instance, schema["if"], root, path) else "else"
        if branch in schema:
            errors += validate(instance, schema[branch], root, path)
    return errors


def load_schema():
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    check_schema(schema)
    return schema


def validate_report_file(path, schema=None):
    """Violations of one report.json file (parses with NaN/Infinity rejected, as strict JSON)."""
    schema = load_schema() if schema is None else schema

    def no_constant(name):
        raise ValueError(f"{path}: non-JSON constant {name}")

    with open(path) as f:
        report = json.load(f, parse_constant=no_constant)
    return validate(report, schema)


# ----------------------------------------------------------------------------------------------
# The validator on its own


@pytest.fixture(scope="module")
def schema():
    return load_schema()


def test_schema_is_well_formed_and_uses_only_supported_keywords(schema):
    assert schema["type"] == "object"
    assert "metrics" in schema["required"]
    with pytest.raises(SchemaError, match="unsupported keyword"):
        check_schema({"type": "object", "patternProperties": {}})
    with pytest.raises(SchemaError, match="does not resolve"):
        check_schema({"$ref": "#/$defs/missing"})


def test_validator_basics():
    s = {"type": "object", "required": ["a"], "additionalProperties": False,
         "properties": {"a": {"type": "integer", "minimum": 1},
                        "b": {"type": ["string", "null"], "enum": ["x", None]},
                        "c": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}}},
         "$defs": {"item": {"type": "object", "required": ["v"], "properties": {"v": {"type": "number"}}}},
         "if": {"required": ["a"], "properties": {"a": {"const": 2}}}, "then": {"required": ["b"]}}
    assert validate({"a": 1}, s) == []
    assert validate({"a": 3.0, "b": None, "c": [{"v": 1.5}]}, s) == []  # 3.0 is an integer
    assert validate({}, s) == ["$: missing required key 'a'"]
    assert validate({"a": True}, s) == ["$.a: expected integer, got bool"]
    assert validate({"a": 1.5}, s) == ["$.a: expected integer, got non-integer number 1.5"]
    assert validate({"a": 0}, s) == ["$.a: 0 is below the minimum 1"]
    assert validate({"a": 1, "z": 0}, s)[0].startswith("$.z: unexpected key")
    assert validate({"a": 1, "b": "y"}, s) == ["$.b: 'y' is not one of ['x', None]"]
    assert validate({"a": 1, "c": []}, s) == ["$.c: 0 item(s), at least 1 expected"]
    assert validate({"a": 1, "c": [{"v": "1"}]}, s) == ["$.c[0].v: expected number, got str"]
    assert validate({"a": 1, "c": [{}]}, s) == ["$.c[0]: missing required key 'v'"]
    assert validate({"a": 2}, s) == ["$: missing required key 'b'"]  # if/then
    assert validate(float("nan"), {"type": "number"}) == ["$: expected number, got NaN/inf"]
    assert validate(1, False) == ["$: not allowed here"]


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
    "cnn_spatial_pipelined": [CNN_CONFIG, "--limit", "8", "--set", "model.dropout.kind=spatial",
                              "--set", "model.dropout.p=0.2", "--set", "hardware.dropout_device.pipelined=true"],
}


def run_sim(out, *args):
    assert os.path.exists(EXE), f"{EXE} is missing: build first (scripts/setup.sh --no-run)"
    config = CONFIG
    if args and args[0].endswith(".yaml"):
        config, args = args[0], args[1:]
    env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
    p = subprocess.run([EXE, "run", config, "--limit", "60", "--set", "mc.samples=3", "--quiet", "--out", str(out),
                        *args], capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    assert p.returncode == 0, f"bayescim failed ({p.returncode}):\n{p.stderr}"
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
def test_real_report_conforms(run, reports, schema):
    if run not in reports:
        pytest.skip(f"{os.path.relpath(CNN_MODEL, REPO_ROOT)} is missing")
    path, rep = reports[run]
    errors = validate_report_file(path, schema)
    assert errors == [], f"{run}: report.json violates docs/report-schema.json:\n  " + "\n  ".join(errors)
    # The runs cover what they are meant to cover.
    assert (rep["energy"] is None) == (rep["engine"] == "reference")
    assert (rep["metrics"]["ood"] is None) == ("ood" in run)


GOLDEN = sorted(glob.glob(os.path.join(REPO_ROOT, "tests", "golden", "*.json")))


@pytest.mark.parametrize("path", GOLDEN, ids=[os.path.relpath(p, REPO_ROOT) for p in GOLDEN])
def test_golden_report_conforms(path, schema):
    """tests/golden/<experiment>.json are reports without the machine- and checkout-dependent keys
    (tests/golden/update.py drops wall_s, timing, config and model.path): put placeholders back."""
    with open(path) as f:
        rep = json.load(f)
    rep.setdefault("wall_s", 0.0)
    rep.setdefault("timing", {"wall_s": 0.0, "workers": 1})
    rep.setdefault("config", {"experiment": {}, "model": {}, "data": {}})
    if isinstance(rep.get("model"), dict):
        rep["model"].setdefault("path", "")
    errors = validate(rep, schema)
    assert errors == [], f"{path} violates docs/report-schema.json:\n  " + "\n  ".join(errors)


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


# (run, mutation, a substring the error must contain)
MUTATIONS = {
    "missing_top_level_key": ("hw", _delete(["metrics"]), "$: missing required key 'metrics'"),
    "missing_nested_key": ("hw", _delete(["metrics", "id", "accuracy"]), "$.metrics.id: missing required key 'accuracy'"),
    "missing_key_in_array_item": ("hw", _delete(["metrics", "id", "reliability", 3, "count"]),
                                  "$.metrics.id.reliability[3]: missing required key 'count'"),
    "missing_layer_key": ("hw", _delete(["hardware", "layers", 1, "latency_per_sample_s"]),
                          "$.hardware.layers[1]: missing required key 'latency_per_sample_s'"),
    "string_for_number": ("hw", _set(["energy", "total_J"], "4.6e-05"), "$.energy.total_J: expected number, got str"),
    "float_for_integer": ("hw", _set(["mc_samples"], 3.5), "$.mc_samples: expected integer"),
    "bool_for_integer": ("hw", _set(["hardware", "random_bits"], True), "$.hardware.random_bits: expected integer, got bool"),
    "null_for_number": ("hw", _set(["metrics", "id", "nll"], None), "$.metrics.id.nll: expected number, got NoneType"),
    "object_for_array": ("hw", _set(["hardware", "layers"], {}), "$.hardware.layers: expected array, got dict"),
    "bad_enum": ("hw", _set(["hardware", "layers", 0, "sensing"], "comparator"), "$.hardware.layers[0].sensing: 'comparator'"),
    "bad_engine": ("hw", _set(["engine"], "gpu"), "$.engine: 'gpu' is not one of"),
    "below_minimum": ("hw", _set(["metrics", "id", "accuracy"], -0.1), "$.metrics.id.accuracy: -0.1 is below the minimum"),
    "above_maximum": ("hw", _set(["metrics", "ood", "auroc_mi"], 1.5), "$.metrics.ood.auroc_mi: 1.5 is above the maximum"),
    "negative_component_energy": ("hw", _set(["energy", "by_component", "adc"], -1.0),
                                  "$.energy.by_component.adc: -1.0 is below the minimum 0"),
    "undocumented_key": ("hw", _set(["hardware", "area_mm2"], 1.0), "$.hardware.area_mm2: unexpected key"),
    "hw_without_energy": ("hw", _set(["energy"], None), "$.energy: expected object, got NoneType"),
    "hw_without_layers": ("hw", _delete(["hardware", "layers"]), "$.hardware: missing required key 'layers'"),
    "reference_with_energy": ("reference", _set(["energy"], {}), "$.energy: expected null, got dict"),
    "reference_with_layers": ("reference", _set(["hardware", "layers"], []), "$.hardware.layers: not allowed here"),
    "ood_data_without_metrics": ("hw", _set(["metrics", "ood"], None), "$.metrics.ood: expected object, got NoneType"),
    "ood_metrics_without_data": ("no_ood", lambda r: r["metrics"].__setitem__("ood", {}),
                                 "$.metrics.ood: expected null, got dict"),
    "missing_corruption": ("hw", _delete(["data", "id", "corruption"]), "$.data.id: missing required key 'corruption'"),
    "bad_corruption_kind": ("gaussian_noise", _set(["data", "id", "corruption", "kind"], "blur"),
                            "$.data.id.corruption.kind: 'blur' is not one of"),
    "missing_area_component": ("hw", _delete(["area", "by_component_mm2", "dropout"]),
                               "$.area.by_component_mm2: missing required key 'dropout'"),
    "reference_with_area": ("reference", _set(["area"], {}), "$.area: expected null, got dict"),
    "missing_dropout_draw_time": ("hw", _delete(["latency", "dropout_draws_per_inference_s"]),
                                  "$.latency: missing required key 'dropout_draws_per_inference_s'"),
    "missing_timing_workers": ("jobs2", _delete(["timing", "workers"]), "$.timing: missing required key 'workers'"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutated_report_is_rejected(name, reports, schema):
    run, mutate, expected = MUTATIONS[name]
    rep = copy.deepcopy(reports[run][1])
    assert validate(rep, schema) == []
    mutate(rep)
    errors = validate(rep, schema)
    assert errors, f"{name}: the mutated report passed"
    assert any(expected in e for e in errors), f"{name}: expected an error containing {expected!r}, got {errors}"


def test_nan_written_as_json_constant_is_rejected(reports, schema, tmp_path):
    text = json.dumps(reports["hw"][1]).replace('"nll": ', '"nll": NaN, "x": ', 1)
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="non-JSON constant NaN"):
        validate_report_file(str(path), schema)


def main(argv):
    if not argv:
        print("usage: test_report_schema.py REPORT.json ...", file=sys.stderr)
        return 2
    schema, bad = load_schema(), 0
    for path in argv:
        errors = validate_report_file(path, schema)
        print(f"{path}: {'ok' if not errors else f'{len(errors)} violation(s)'}")
        for e in errors:
            print(f"  {e}")
        bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
