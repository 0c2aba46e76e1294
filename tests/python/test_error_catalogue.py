"""The error catalogue: every input the simulator and its tools read, fed malformed variants made
from the shipped files, must give a non-zero exit with the documented code, ONE short line on
stderr that names the file (and line and key, or the ONNX node) and says what was expected, no
traceback or crash text, and no output file.

Inputs: the experiment YAML and the architecture and device YAML it includes, `--set`, the
command line, ONNX models, idx datasets, sweep specs (sweep/bayescim-sweep) and golden reports
(python3 -m tests.golden.update --check). Variants: wrong type, out of range, NaN and inf, unknown key,
missing required key, empty file, binary garbage, truncated file, wrong shape, unsupported op or
attribute or value, a path that does not exist, a folder where a file belongs.

The YAML variants are generated line by line from the shipped files (each leaf key of each file
gets every variant its type allows), so a key added to a shipped file is covered without editing
this test. `/usr/bin/python3 tests/python/test_error_catalogue.py` prints the case count per
input and variant (docs/reliability.md quotes it).
"""

import gzip
import os
import re
import shutil
import struct
from collections import Counter, namedtuple

import pytest

from tests.harness import ENV, EXE, PY, REPO_ROOT, SWEEP, run

GOLDEN_TOOL = [PY, "-m", "tests.golden.update"]  # run in a scratch folder: the root comes by PYTHONPATH
EXPERIMENT = "configs/experiments/mnist_mlp_scale.yaml"
INCLUDED = {  # the files the experiment includes, by the key that names them
    "hardware.architecture": "configs/architectures/stt_cim_512x128.yaml",
    "hardware.device": "configs/devices/nvsim_sttram.yaml",
    "hardware.dropout_device": "configs/devices/uta_stochastic_mtj.yaml",
}
SWEEP_SPEC = "configs/sweeps/mlp_array_adc.yaml"
MLP_MODEL = "models/pretrained/mnist_mlp_scale.onnx"
CNN_MODEL = "models/pretrained/fashion_cnn_spatial.onnx"
CNN_EXPERIMENT = "configs/experiments/fashion_cnn_spatial.yaml"

INPUT_ERROR, USAGE_ERROR = 1, 2
# Keys with a documented default: deleting them must still validate (and is not an error case).
OPTIONAL = {
    "experiment.name", "experiment.seed", "experiment.engine", "mc.samples", "data.id.split", "data.ood.split",
    "data.limit", "output.dir", "log.level",
    "hardware.architecture.source", "hardware.architecture.sense_amp.offset_sigma_uA",
    "hardware.architecture.adc.bits", "hardware.architecture.tlm_quantum_ns",
    "hardware.device.variation.r_p_sigma_log", "hardware.device.variation.tmr_sigma_rel",
    "hardware.device.faults.stuck_at_p_rate", "hardware.device.faults.stuck_at_ap_rate",
    "hardware.dropout_device.temperature_K", "hardware.dropout_device.variation.delta_sigma_rel",
    "hardware.dropout_device.variation.ic0_sigma_rel", "hardware.dropout_device.variation.size_sigma_rel",
    "hardware.dropout_device.pipelined",
    "hardware.architecture.array.cell", "hardware.architecture.array.wire_ohm_per_cell",
    "hardware.architecture.limits.max_read_to_write_current", "hardware.architecture.limits.max_bitline_current_mA",
    "hardware.architecture.sense_amp.transimpedance_ohm", "hardware.architecture.sense_amp.min_sense_mV",

    "hardware.architecture.mapping.replicate", "hardware.architecture.mapping.pipeline_samples",
    "hardware.architecture.interconnect.bits_per_cycle", "hardware.architecture.adc.overlap_reads",
    "hardware.architecture.programming.write_verify", "hardware.architecture.programming.max_attempts",
    "hardware.device.access_transistor_ohm", "hardware.device.faults.read_disturb_rate",
    "hardware.device.faults.write_error_rate",
    "hardware.architecture.area.shortcut_buffer_bit_um2", "hardware.architecture.area.shortcut_adder_um2",
    "hardware.architecture.array.wire_ohm_per_cell", "hardware.architecture.array.source_line_ohm_per_cell",
    "hardware.architecture.sense_amp.sense_node_ohm", "hardware.architecture.sense_amp.references",
    "hardware.device.max_junction_voltage_V",
    "hardware.architecture.dropout_circuits.driver_um2", "hardware.architecture.dropout_circuits.driver_control_fJ",
    "hardware.architecture.dropout_circuits.mask_latch_um2", "hardware.architecture.dropout_circuits.wordline_gate_um2",
    "hardware.architecture.dropout_circuits.wordline_gate_fJ",
    "hardware.architecture.dropout_circuits.select_reference_um2",
    "hardware.architecture.dropout_circuits.select_reference_fJ",
    "hardware.architecture.dropout_circuits.select_threshold_um2",
    "hardware.architecture.dropout_circuits.select_threshold_fJ",
}
INCLUDE_KEYS = set(INCLUDED)
CHOICES = {"experiment.engine", "hardware.architecture.sense_amp.references", "hardware.architecture.array.cell",
           "data.id.dataset", "data.ood.dataset", "data.id.split", "data.ood.split",
           "log.level"}
FORBIDDEN = ("Traceback", "terminate called", "Segmentation", "AddressSanitizer", "runtime error:",
             "internal error", "core dumped", "what():")
EXPECTATION = re.compile(r"expect|usage:|limit|allowed|required|supported|must|refusing|does not exist|no such|"
                         r"is a directory|is a folder|not a valid|not valid|is empty|truncated|unknown|"
                         r"exactly|one of|not below|do not pair|magic|is not", re.I)
MAX_CHARS = 600  # "short": the longest message, an unknown key with its allowed list, is ~300

# A case: its id, the input and variant (for the counts), how to build and run it, what the one
# message must contain, and the exit code.
Case = namedtuple("Case", "id input variant build must code tool")


# ------------------------------------------------------------------------------------------------
# A scratch copy of the repository layout: configs/ copied (variants edit them), models/ and data/
# linked, so the shipped files' relative paths and line numbers hold.

def make_tree(tmp):
    for sub in ("experiments", "architectures", "devices", "sweeps"):
        shutil.copytree(os.path.join(REPO_ROOT, "configs", sub), os.path.join(tmp, "configs", sub))
    os.symlink(os.path.join(REPO_ROOT, "models"), os.path.join(tmp, "models"))
    os.symlink(os.path.realpath(os.path.join(REPO_ROOT, "data")), os.path.join(tmp, "data"))
    return tmp


def read(rel):
    with open(os.path.join(REPO_ROOT, rel)) as f:
        return f.read()


# ------------------------------------------------------------------------------------------------
# Leaf keys of a block-style YAML file, with their line numbers.

LINE = re.compile(r"^( *)([A-Za-z_][A-Za-z0-9_]*):(.*)$")


def strip_comment(v):
    v = v.strip()
    if v.startswith(("'", '"')):
        q = v[0]
        end = v.find(q, 1)
        return v[:end + 1] if end > 0 else v
    if v.startswith("#"):
        return ""
    m = re.search(r"\s#", v)
    return v[:m.start()].strip() if m else v


def leaves(text, prefix=""):
    """(line number, dotted key, indent, value text) of every leaf; sections are skipped."""
    out, stack = [], []
    for no, line in enumerate(text.split("\n"), 1):
        m = LINE.match(line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), strip_comment(m.group(3))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([prefix] * bool(prefix) + [k for _, k in stack] + [key])
        if rest in ("", ">", "|"):
            if rest == "":
                stack.append((indent, key))
            continue
        out.append((no, dotted, indent, rest))
    return out


def kind_of(value):
    if value in ("true", "false"):
        return "bool"
    if value.startswith("["):
        return "list"
    try:
        float(value)
        return "number"
    except ValueError:
        return "string"


def replace_line(text, no, new):
    lines = text.split("\n")
    lines[no - 1] = new
    return "\n".join(lines)


def insert_after(text, no, new):
    lines = text.split("\n")
    lines.insert(no, new)
    return "\n".join(lines)


def delete_line(text, no):
    lines = text.split("\n")
    del lines[no - 1]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Case builders. A build function takes the scratch tree and the output folder and returns the
# command line (it may also write files).

def sim_run(*args, out=True, log=True):
    """`bayescim run ARGS`; --out and --log-level are left out where the variant is of that key
    (the command line would override it)."""
    argv = [EXE, "run", *args, "--quiet"] + ["--log-level", "warn"] * log
    if not out:
        i = argv.index("--out")
        del argv[i:i + 2]
    return argv


def yaml_file_cases():
    files = [(EXPERIMENT, "")] + [(path, key) for key, path in INCLUDED.items()]
    cases = []
    for rel, prefix in files:
        text = read(rel)
        base = os.path.basename(rel)
        role = "experiment YAML" if not prefix else "included YAML"

        def edit(new_text, rel=rel, key=None):
            def build(tmp, out):
                with open(os.path.join(tmp, rel), "w") as f:
                    f.write(new_text)
                return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out, out=key != "output.dir",
                               log=key != "log.level")
            return build

        seen_sections = set()
        for no, key, indent, value in leaves(text, prefix):
            if key in INCLUDE_KEYS:
                continue
            head = " " * indent + key.rsplit(".", 1)[1] + ": "
            where = [f"{base}:{no}", f"'{key}'"]
            kind = kind_of(value)
            variants = []
            if kind == "number":
                variants += [("wrong type", "abc"), ("wrong type", "[1, 2]"), ("out of range", "-1e300"),
                             ("out of range", "1e300"), ("NaN or inf", ".nan"), ("NaN or inf", ".inf"),
                             ("NaN or inf", "-.inf")]
            elif kind == "bool":
                variants += [("wrong type", "maybe"), ("wrong type", "{a: 1}")]
            elif kind == "string":
                variants += [("wrong type", "{a: 1}"), ("wrong type", "[a, b]")]
                if key in CHOICES:
                    variants.append(("unsupported value", "not_a_choice"))
            for variant, new in variants:
                cases.append(Case(f"{base}:{key}:{variant}:{new}", role, variant,
                                  edit(replace_line(text, no, head + new), key=key), where, INPUT_ERROR, "sim"))
            if key in OPTIONAL:
                continue  # deleting it is valid: test_optional_keys_have_defaults
            cases.append(Case(f"{base}:{key}:missing", role, "missing required key", edit(delete_line(text, no)),
                              [base, f"'{key}'", "required"], INPUT_ERROR, "sim"))
            section = key.rsplit(".", 1)[0] if "." in key else ""
            if section not in seen_sections:
                seen_sections.add(section)
                bogus = (section + "." if section else "") + "bogus_key"
                cases.append(Case(f"{base}:{bogus}:unknown", role, "unknown key",
                                  edit(insert_after(text, no, " " * indent + "bogus_key: 1")),
                                  [f"{base}:{no + 1}", f"'{bogus}'", "allowed"], INPUT_ERROR, "sim"))
        # A key given twice (the second value used to be silently ignored).
        no, key, indent, value = next(leaf for leaf in leaves(text, prefix) if leaf[1] not in INCLUDE_KEYS)
        dup = " " * indent + key.rsplit(".", 1)[1] + ": " + value
        cases.append(Case(f"{base}:{key}:duplicate", role, "duplicate key", edit(insert_after(text, no, dup)),
                          [f"{base}:{no + 1}", "appears twice", f"line {no}"], INPUT_ERROR, "sim"))
        # Whole-file variants.
        raw = text.encode()
        whole = [("empty file", b"", ["is empty"]), ("binary garbage", bytes(range(256)) * 4, ["binary"]),
                 ("truncated file", raw[:len(raw) // 2], []), ("wrong shape", b"- a\n- b\n", ["mapping"]),
                 ("wrong shape", b"[unclosed, flow\n", ["syntax"])]
        for variant, content, words in whole:
            def build(tmp, out, rel=rel, content=content):
                with open(os.path.join(tmp, rel), "wb") as f:
                    f.write(content)
                return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out)
            cases.append(Case(f"{base}:{variant}:{len(content)}", role, variant, build, [base] + words, INPUT_ERROR,
                              "sim"))
        for variant in ("nonexistent path", "directory where a file belongs"):
            def build(tmp, out, rel=rel, variant=variant):
                os.remove(os.path.join(tmp, rel))
                if variant != "nonexistent path":
                    os.mkdir(os.path.join(tmp, rel))
                return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out)
            words = ["does not exist"] if variant == "nonexistent path" else ["directory"]
            must = [base] + words + ([f"'{prefix}'"] if prefix else [])
            cases.append(Case(f"{base}:{variant}", role, variant, build, must, INPUT_ERROR, "sim"))
    return cases


def set_cases():
    S = "--set"
    table = [
        ("wrong type", "mc.samples=abc", ["'mc.samples'", "integer"]),
        ("wrong type", "model.dropout.p={a: 1}", ["'model.dropout.p'", "number"]),
        ("wrong type", "output.samples_csv=3", ["'output.samples_csv'", "true or false"]),
        ("wrong type", "mc=5", ["'mc'", "mapping"]),
        ("wrong type", "mc.samples.x=5", ["'mc.samples'", "section"]),
        ("out of range", "mc.samples=0", ["'mc.samples'", "[1, 100000]"]),
        ("out of range", "model.dropout.p=7", ["'model.dropout.p'", "[0, 1]"]),
        ("out of range", "hardware.architecture.array.rows=99999", ["'hardware.architecture.array.rows'"]),
        ("out of range", "hardware.device.tmr=-1", ["'hardware.device.tmr'"]),
        ("wrong type", "hardware.architecture.mapping.pipeline_images=two", ["'hardware.architecture.mapping.pipeline_images'", "integer"]),
        ("out of range", "hardware.architecture.mapping.pipeline_images=0", ["'hardware.architecture.mapping.pipeline_images'", "[1, 4096]"]),
        ("out of range", "hardware.architecture.mapping.pipeline_images=4097", ["'hardware.architecture.mapping.pipeline_images'", "[1, 4096]"]),
        # > 1 needs pipeline_samples (off in the shipped architecture): both keys named
        ("out of range", "hardware.architecture.mapping.pipeline_images=8", ["'hardware.architecture.mapping.pipeline_images'", "'hardware.architecture.mapping.pipeline_samples'", "got 8"]),
        ("unknown key", "hardware.architecture.mapping.pipeline_image=2", ["'hardware.architecture.mapping.pipeline_image'", "allowed"]),
        ("NaN or inf", "model.dropout.p=.nan", ["'model.dropout.p'"]),
        ("NaN or inf", "hardware.device.tmr=.inf", ["'hardware.device.tmr'"]),
        ("NaN or inf", "data.corruption.strength=-.inf", ["'data.corruption.strength'"]),
        ("unknown key", "mc.samplez=5", ["'mc.samplez'", "allowed in 'mc'"]),
        ("unknown key", "hardware.device.tmrr=2", ["'hardware.device.tmrr'", "allowed"]),
        ("unknown key", "bogus=1", ["'bogus'", "allowed"]),
        ("missing required key", "model.path=", ["'model.path'"]),
        ("missing required key", "model.path=null", ["'model.path'", "required"]),
        ("missing required key", "data.id=null", ["'data.id.dataset'", "required"]),
        ("wrong shape", "mc.samples", ["key=value"]),
        ("wrong shape", "=5", ["key=value"]),
        ("wrong shape", "a..b=5", ["malformed key"]),
        ("wrong shape", "mc.samples=[1,", ["not valid YAML"]),
        ("wrong shape", "data.id=[1, 2]", ["'data.id'", "mapping"]),
        ("unsupported value", "model.dropout.kind=gaussian", ["'model.dropout.kind'", "one of"]),
        ("unsupported value", "model.dropout.layout=diagonal", ["'model.dropout.layout'", "element-wise"]),
        ("unsupported value", "experiment.engine=verilog", ["'experiment.engine'", "one of"]),
        ("unsupported value", "trace.modules=foo", ["'trace.modules'"]),
        ("unsupported value", "model.dropout.layers=nosuch", ["model.dropout", "nosuch"]),
        ("unsupported value", "log.modules.nosuch=debug", ["'log.modules.nosuch'"]),
        ("nonexistent path", "model.path=/nonexistent/model.onnx", ["'model.path'", "does not exist"]),
        ("nonexistent path", "hardware.device=/nonexistent/dev.yaml", ["'hardware.device'", "does not exist"]),
        ("nonexistent path", "data.id.dir=/nonexistent", ["/nonexistent/t10k-images-idx3-ubyte", "no such file"]),
        ("directory where a file belongs", "model.path=/tmp", ["'model.path'", "directory"]),
        ("directory where a file belongs", "hardware.architecture=/tmp", ["'hardware.architecture'", "directory"]),
    ]
    cases = []
    for variant, arg, words in table:
        def build(tmp, out, arg=arg):
            return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out, "--limit", "2", S, arg)
        cases.append(Case(f"--set {arg}", "--set", variant, build, [f"--set {arg}"] + words
                          if not arg.startswith(("data.id.dir", "model.dropout.layers", "log.modules"))
                          else words, INPUT_ERROR, "sim"))
    return cases


def cli_cases():
    table = [
        ("unknown key", ["run", "{exp}", "--frobnicate"], ["--frobnicate"], USAGE_ERROR),
        ("unsupported value", ["frobnicate", "{exp}"], ["unknown command", "run, validate"], USAGE_ERROR),
        ("missing required key", ["run"], ["missing CONFIG.yaml", "usage"], USAGE_ERROR),
        ("missing required key", [], ["missing command"], USAGE_ERROR),
        ("missing required key", ["run", "{exp}", "--set"], ["--set", "needs a value"], USAGE_ERROR),
        ("wrong shape", ["run", "{exp}", "{exp}"], ["unexpected argument"], USAGE_ERROR),
        ("wrong type", ["run", "{exp}", "--jobs", "two"], ["--jobs", "[1, 256]"], USAGE_ERROR),
        ("out of range", ["run", "{exp}", "--jobs", "0"], ["--jobs", "[1, 256]"], USAGE_ERROR),
        ("out of range", ["run", "{exp}", "--jobs", "100000"], ["--jobs", "[1, 256]"], USAGE_ERROR),
        ("wrong type", ["run", "{exp}", "--limit", "x"], ["--limit", "positive integer"], USAGE_ERROR),
        ("out of range", ["run", "{exp}", "--limit", "-3"], ["--limit", "positive integer"], USAGE_ERROR),
        ("NaN or inf", ["run", "{exp}", "--limit", "inf"], ["--limit", "positive integer"], USAGE_ERROR),
        ("wrong type", ["run", "{exp}", "--max-memory", "lots"], ["--max-memory", "4G"], USAGE_ERROR),
        ("NaN or inf", ["run", "{exp}", "--max-memory", "nan"], ["--max-memory"], USAGE_ERROR),
        ("unsupported value", ["run", "{exp}", "--log-level", "loud"], ["'log.level'", "one of"], INPUT_ERROR),
        ("nonexistent path", ["run", "/nonexistent/x.yaml"], ["/nonexistent/x.yaml", "does not exist"],
         INPUT_ERROR),
        ("directory where a file belongs", ["run", "{tmp}/configs"], ["configs", "directory"], INPUT_ERROR),
        ("directory where a file belongs", ["run", "{exp}", "--vcd", "{tmp}"], ["VCD", "folder"], INPUT_ERROR),
        ("wrong type", ["run", "{exp}", "--out", "{exp}"], ["output folder", "not a folder"], INPUT_ERROR),
        ("nonexistent path", ["run", "{exp}", "--out", "/proc/no/such"], ["/proc/no", "cannot create"],
         INPUT_ERROR),
        ("out of range", ["run", "{exp}", "--set", "hardware.architecture.array.rows=1", "--set",
                          "hardware.architecture.array.cols=1"], ["memory limit", "GiB", "arrays"], INPUT_ERROR),
        ("out of range", ["run", "{exp}", "--max-memory", "1M"], ["memory limit", "1 MiB"], INPUT_ERROR),
    ]
    cases = []
    for variant, args, words, code in table:
        def build(tmp, out, args=args):
            exp = os.path.join(tmp, EXPERIMENT)
            extra = []
            if len(args) > 1:
                extra = ["--quiet"] + ["--log-level", "warn"] * ("--log-level" not in args)
                extra += ["--out", out] * ("--out" not in args)
            return [EXE] + [a.format(exp=exp, tmp=tmp) for a in args[:1]] + extra + \
                [a.format(exp=exp, tmp=tmp) for a in args[1:]]
        cases.append(Case("cli " + " ".join(args), "command line", variant, build, words, code, "sim"))
    return cases


# ------------------------------------------------------------------------------------------------
# ONNX variants, made with the onnx package from the shipped models.

def onnx_edit(model_rel, fn):
    def make(path):
        import onnx
        m = onnx.load(os.path.join(REPO_ROOT, model_rel))
        fn(m)
        onnx.save(m, path)
    return make


def _init(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def _set_init(m, name, array):
    from onnx import numpy_helper
    t = _init(m, name)
    t.CopyFrom(numpy_helper.from_array(array, name))


def _arr(m, name):
    from onnx import numpy_helper
    return numpy_helper.to_array(_init(m, name)).copy()


def _node(m, name):
    return next(n for n in m.graph.node if n.name == name)


def _node_in(nodes, name):
    return next(n for n in nodes if n.name == name)


def onnx_cases():
    import numpy as np
    from onnx import helper

    def shape_fc2(m):
        _set_init(m, "fc2.weight", _arr(m, "fc2.weight")[:511])

    def shape_bn(m):
        _set_init(m, "fc1.bn.var", _arr(m, "fc1.bn.var")[:500])

    def shape_input(m):
        m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 783

    def op(m):
        _node(m, "fc1.scale").op_type = "Softmax"

    def attr_bn(m):
        _node(m, "fc2.bn").attribute.append(helper.make_attribute("spatial", 1))

    def attr_conv(m):
        _node(m, "conv1").attribute.append(helper.make_attribute("group", 2))

    def attr_conv_dilation(m):
        n = _node(m, "conv2")
        n.attribute.append(helper.make_attribute("dilations", [2, 2]))

    def wrong_type(m):
        _set_init(m, "fc1.weight", _arr(m, "fc1.weight").astype(np.float64))  # INT64 loads (shape constants)

    def nan_bn(m):
        a = _arr(m, "fc2.bn.var")
        a[3] = np.nan
        _set_init(m, "fc2.bn.var", a)

    def inf_alpha(m):
        a = _arr(m, "fc1.alpha")
        a[0] = np.inf
        _set_init(m, "fc1.alpha", a)

    def weight_range(m):
        a = _arr(m, "fc3.weight")
        a[0, 0] = 2.0
        _set_init(m, "fc3.weight", a)

    def meta(key, value):
        def f(m):
            for p in m.metadata_props:
                if p.key == key:
                    p.value = value
        return f

    def missing_init(m):
        m.graph.initializer.remove(_init(m, "fc2.bn.mean"))

    def join_conv2(shortcut):
        """An Add of conv2's BatchNorm output and `shortcut` before its sign (a residual join)."""
        def f(m):
            nodes = list(m.graph.node)
            at = [n.name for n in nodes].index("conv2.bn") + 1
            nodes.insert(at, helper.make_node("Add", ["conv2.bn", shortcut], ["conv2.sum"], name="conv2.add"))
            _node_in(nodes, "conv2.act.ge").input[0] = "conv2.sum"
            del m.graph.node[:]
            m.graph.node.extend(nodes)
        f.__name__ = f"join_conv2_{shortcut.replace('.', '_')}"
        return f

    def missing_output(m):
        del m.graph.output[:]

    table = [
        ("wrong shape", MLP_MODEL, shape_fc2, ["'fc2'", "511"]),
        ("wrong shape", MLP_MODEL, shape_bn, ["'fc1.bn'", "500"]),
        ("wrong shape", MLP_MODEL, shape_input, ["'fc1'", "783"]),
        ("unsupported op", MLP_MODEL, op, ["'fc1.scale'", "Softmax", "supported"]),
        ("unsupported attribute", MLP_MODEL, attr_bn, ["'fc2.bn'", "'spatial'"]),
        ("unsupported attribute", CNN_MODEL, attr_conv, ["'conv1'", "group"]),
        ("unsupported attribute", CNN_MODEL, attr_conv_dilation, ["'conv2'", "dilation"]),
        ("wrong type", MLP_MODEL, wrong_type, ["'fc1.weight'", "DOUBLE", "FLOAT"]),
        ("NaN or inf", MLP_MODEL, nan_bn, ["fc2", "finite"]),
        ("NaN or inf", MLP_MODEL, inf_alpha, ["fc1", "finite"]),
        ("out of range", MLP_MODEL, weight_range, ["'fc3'", "+1 or -1"]),
        ("out of range", MLP_MODEL, meta("bayescim.dropout.p", "1.5"), ["metadata", "[0, 1]"]),
        ("NaN or inf", MLP_MODEL, meta("bayescim.dropout.p", "nan"), ["bayescim.dropout.p", "number"]),
        ("unsupported value", MLP_MODEL, meta("bayescim.dropout.kind", "gaussian"), ["bayescim.dropout.kind",
                                                                                      "gaussian"]),
        ("unknown key", MLP_MODEL, meta("bayescim.dropout.layers", "fc1,fc9"), ["fc9", "metadata"]),
        ("missing required key", MLP_MODEL, missing_init, ["'fc2.bn'", "fc2.bn.mean", "initializer"]),
        ("missing required key", MLP_MODEL, missing_output, ["graph output"]),
        # residual joins: pool1 (32 channels) against conv2's 64; conv1's BN output is no ±1 shortcut
        ("wrong shape", CNN_MODEL, join_conv2("pool1"), ["'conv2.add' (Add)", "shapes differ", "32x14x14", "64x14x14"]),
        ("unsupported value", CNN_MODEL, join_conv2("conv1.bn"), ["'conv2.add' (Add)", "two computed values",
                                                                  "residual join"]),
    ]
    cases = []
    for variant, src, fn, words in table:
        def build(tmp, out, src=src, fn=fn):
            path = os.path.join(tmp, "bad.onnx")
            onnx_edit(src, fn)(path)
            exp = CNN_EXPERIMENT if src == CNN_MODEL else EXPERIMENT
            return sim_run(os.path.join(tmp, exp), "--out", out, "--limit", "2", "--set", f"model.path={path}")
        cases.append(Case(f"onnx {os.path.basename(src)} {fn.__name__}", "ONNX model", variant, build,
                          ["bad.onnx", "'model.path'"] + words, INPUT_ERROR, "sim"))
    raw_len = os.path.getsize(os.path.join(REPO_ROOT, MLP_MODEL))
    files = [("empty file", lambda: b"", ["empty"]), ("binary garbage", lambda: bytes(range(256)) * 64,
                                                       ["not a valid ONNX"]),
             ("truncated file", lambda: open(os.path.join(REPO_ROOT, MLP_MODEL), "rb").read()[:raw_len // 2],
              ["truncated"]),
             ("wrong type", lambda: read(EXPERIMENT).encode(), ["not a valid ONNX"])]
    for variant, content, words in files:
        def build(tmp, out, content=content):
            path = os.path.join(tmp, "bad.onnx")
            with open(path, "wb") as f:
                f.write(content())
            return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out, "--limit", "2", "--set", f"model.path={path}")
        cases.append(Case(f"onnx {variant}", "ONNX model", variant, build, ["bad.onnx", "'model.path'"] + words,
                          INPUT_ERROR, "sim"))
    for variant in ("nonexistent path", "directory where a file belongs"):
        def build(tmp, out, variant=variant):
            path = os.path.join(tmp, "bad.onnx")
            if variant != "nonexistent path":
                os.mkdir(path)
            return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out, "--limit", "2", "--set", f"model.path={path}")
        cases.append(Case(f"onnx {variant}", "ONNX model", variant, build,
                          ["bad.onnx", "'model.path'", "does not exist" if variant == "nonexistent path"
                           else "directory"], INPUT_ERROR, "sim"))
    return cases


# ------------------------------------------------------------------------------------------------
# idx variants: a 5-image copy of the shipped MNIST test files, then one file broken.

IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def small_idx(name, n=5):
    with open(os.path.join(REPO_ROOT, "data", "mnist", name), "rb") as f:
        raw = f.read(16 + n * 784) if name == IMAGES else f.read(8 + n)
    return bytearray(raw[:4] + struct.pack(">I", n) + raw[8:])


def idx_cases():
    def header(b, dim, value):
        b[4 + 4 * dim:8 + 4 * dim] = struct.pack(">I", value)
        return b

    def images_27_rows():
        b = header(small_idx(IMAGES), 1, 27)
        return bytes(b[:16 + 5 * 27 * 28])

    def labels_out_of_range():
        b = small_idx(LABELS)
        b[8 + 2] = 11
        return bytes(b)

    table = [
        (IMAGES, "empty file", lambda: b"", ["is empty", "magic"]),
        (LABELS, "empty file", lambda: b"", ["is empty", "magic"]),
        (IMAGES, "binary garbage", lambda: bytes(range(256)) * 8, ["wrong magic"]),
        (LABELS, "binary garbage", lambda: bytes(range(255, -1, -1)) * 8, ["wrong magic"]),
        (IMAGES, "truncated file", lambda: bytes(small_idx(IMAGES)[:16 + 2 * 784 + 100]), ["truncated"]),
        (IMAGES, "truncated file", lambda: bytes(small_idx(IMAGES)[:10]), ["truncated", "header"]),
        (LABELS, "truncated file", lambda: bytes(small_idx(LABELS)[:11]), ["truncated"]),
        (IMAGES, "wrong type", lambda: bytes(small_idx(LABELS)), ["magic", "label file"]),
        (IMAGES, "wrong type", lambda: gzip.compress(bytes(small_idx(IMAGES))), ["gzip"]),
        (IMAGES, "wrong shape", images_27_rows, ["27x28", "784"]),
        (IMAGES, "wrong shape", lambda: bytes(small_idx(IMAGES)) + b"\0" * 7, ["trailing data"]),
        (IMAGES, "out of range", lambda: bytes(header(small_idx(IMAGES), 0, 0x7fffffff)), ["refusing"]),
        (IMAGES, "out of range", lambda: bytes(header(small_idx(IMAGES), 2, 0)), ["sides"]),
        (LABELS, "out of range", labels_out_of_range, ["label 11", "10 classes"]),
        (LABELS, "wrong shape", lambda: bytes(small_idx(LABELS, 4)), ["do not pair", "5 images but 4 labels"]),
    ]
    cases = []
    for name, variant, content, words in table:
        def build(tmp, out, name=name, content=content):
            d = os.path.join(tmp, "idx")
            os.makedirs(d, exist_ok=True)
            for f in (IMAGES, LABELS):
                with open(os.path.join(d, f), "wb") as fh:
                    fh.write(bytes(small_idx(f)))
            with open(os.path.join(d, name), "wb") as fh:
                fh.write(content())
            return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out, "--set", f"data.id.dir={d}",
                           "--set", "data.ood=null", "--set", "mc.samples=1")
        cases.append(Case(f"idx {name} {variant} {words[0]}", "idx dataset", variant, build, [name] + words,
                          INPUT_ERROR, "sim"))
    for name in (IMAGES, LABELS):
        for variant in ("nonexistent path", "directory where a file belongs"):
            def build(tmp, out, name=name, variant=variant):
                d = os.path.join(tmp, "idx")
                os.makedirs(d, exist_ok=True)
                for f in (IMAGES, LABELS):
                    if f == name:
                        if variant != "nonexistent path":
                            os.mkdir(os.path.join(d, f))
                        continue
                    with open(os.path.join(d, f), "wb") as fh:
                        fh.write(bytes(small_idx(f)))
                return sim_run(os.path.join(tmp, EXPERIMENT), "--out", out, "--set", f"data.id.dir={d}",
                               "--set", "data.ood=null", "--set", "mc.samples=1")
            cases.append(Case(f"idx {name} {variant}", "idx dataset", variant, build,
                              [name, "no such file" if variant == "nonexistent path" else "directory"],
                              INPUT_ERROR, "sim"))
    return cases


# ------------------------------------------------------------------------------------------------
# Sweep specs (sweep/bayescim-sweep validate, with and without the simulator's checks).

def sweep_cases():
    text = read(SWEEP_SPEC)
    base = os.path.basename(SWEEP_SPEC)
    lines = text.split("\n")
    no = {m.group(1): i + 1 for i, l in enumerate(lines) for m in [re.match(r"^\s*([\w.]+):", l)] if m}
    edits = [
        ("unknown key", lambda t: t + "\ngird:\n  mc.samples: [1, 2]\n", ["gird", "allowed"]),
        ("wrong type", lambda t: t + "\njobs: two\n", ["jobs"]),
        ("wrong type", lambda t: replace_line(t, no["mc.samples"], "  mc.samples: {a: 1}"), ["mc.samples"]),
        ("out of range", lambda t: t + "\njobs: 0\n", ["jobs"]),
        ("out of range", lambda t: t + "\ntimeout_s: -5\n", ["timeout_s"]),
        ("NaN or inf", lambda t: t + "\ntimeout_s: .nan\n", ["timeout_s"]),
        ("NaN or inf", lambda t: t + "\ntimeout_s: .inf\n", ["timeout_s"]),
        ("missing required key", lambda t: delete_line(t, no["base"]), ["base"]),
        ("wrong shape", lambda t: replace_line(t, no["hardware.architecture.adc.bits"],
                                                "  hardware.architecture.adc.bits: []"), ["adc.bits", "empty"]),
        ("wrong shape", lambda t: t + "\nzip:\n  model.dropout.p: [0.1, 0.2]\n  experiment.seed: [1]\n",
         ["zip"]),
        ("unsupported value", lambda t: t + "\nrandom:\n  samples: 2\n  seed: 1\n  axes:\n    model.dropout.p: {gauss: [0, 1]}\n",
         ["gauss"]),
        ("unknown key", lambda t: t + "\nmetrics: [metrics.id.acuracy]\n", ["metrics.id.acuracy"]),
    ]
    cases = []
    for variant, fn, words in edits:
        def build(tmp, out, fn=fn):
            path = os.path.join(tmp, SWEEP_SPEC)
            with open(path, "w") as f:
                f.write(fn(text))
            return [SWEEP, "validate", path, "--no-simulator"]
        cases.append(Case(f"sweep {variant} {words[0]}", "sweep spec", variant, build, [base] + words,
                          INPUT_ERROR, "sweep"))
    # Axis values the simulator refuses (bayescim validate per distinct value).
    for variant, new, words in [("out of range", "  hardware.architecture.adc.bits: [0, 99]", ["adc.bits", "99"]),
                                ("unknown key", "  hardware.architecture.adc.bitz: [3]", ["adc.bitz", "unknown"])]:
        def build(tmp, out, new=new):
            path = os.path.join(tmp, SWEEP_SPEC)
            with open(path, "w") as f:
                f.write(replace_line(text, no["hardware.architecture.adc.bits"], new))
            return [SWEEP, "validate", path, "--exe", EXE]
        cases.append(Case(f"sweep simulator {variant}", "sweep spec", variant, build,
                          [base, str(no["hardware.architecture.adc.bits"])] + words, INPUT_ERROR, "sweep"))
    raw = text.encode()
    for variant, content in [("empty file", b""), ("binary garbage", bytes(range(256)) * 4),
                             ("truncated file", raw[:len(raw) * 2 // 3]), ("wrong shape", b"- a\n- b\n")]:
        def build(tmp, out, content=content):
            path = os.path.join(tmp, SWEEP_SPEC)
            with open(path, "wb") as f:
                f.write(content)
            return [SWEEP, "validate", path, "--no-simulator"]
        cases.append(Case(f"sweep {variant}", "sweep spec", variant, build, [base], INPUT_ERROR, "sweep"))
    for variant in ("nonexistent path", "directory where a file belongs"):
        def build(tmp, out, variant=variant):
            path = os.path.join(tmp, SWEEP_SPEC)
            os.remove(path)
            if variant != "nonexistent path":
                os.mkdir(path)
            return [SWEEP, "validate", path, "--no-simulator"]
        cases.append(Case(f"sweep {variant}", "sweep spec", variant, build, [base], INPUT_ERROR, "sweep"))
    return cases


# ------------------------------------------------------------------------------------------------
# Golden reports (read by tests/python/test_golden.py through update.load_golden).

def golden_cases():
    src = os.path.join(REPO_ROOT, "tests", "golden", "mnist_mlp_scale.json")
    with open(src) as f:
        good = f.read()
    table = [
        ("empty file", "", ["empty"]),
        ("binary garbage", "\x00\x01\x02garbage", ["not valid JSON"]),
        ("truncated file", good[:len(good) // 2], ["not valid JSON"]),
        ("wrong type", "[1, 2, 3]\n", ["object"]),
        ("NaN or inf", good.replace('"mc_samples": 4', '"mc_samples": NaN', 1), ["NaN"]),
        ("missing required key", '{"seed": 1}\n', ["metrics", "missing"]),
    ]
    cases = []
    for variant, content, words in table:
        def build(tmp, out, content=content):
            path = os.path.join(tmp, "mnist_mlp_scale.json")
            with open(path, "w") as f:
                f.write(content)
            return GOLDEN_TOOL + ["--check", path]
        cases.append(Case(f"golden {variant}", "golden report", variant, build, ["mnist_mlp_scale.json"] + words,
                          INPUT_ERROR, "golden"))
    for variant in ("nonexistent path", "directory where a file belongs"):
        def build(tmp, out, variant=variant):
            path = os.path.join(tmp, "mnist_mlp_scale.json")
            if variant != "nonexistent path":
                os.mkdir(path)
            return GOLDEN_TOOL + ["--check", path]
        cases.append(Case(f"golden {variant}", "golden report", variant, build, ["mnist_mlp_scale.json"],
                          INPUT_ERROR, "golden"))
    return cases


def unique_ids(cases):
    seen = Counter()
    out = []
    for c in cases:
        seen[c.id] += 1
        out.append(c._replace(id=c.id + (f" #{seen[c.id]}" if seen[c.id] > 1 else "")))
    return out


ALL = unique_ids(yaml_file_cases() + set_cases() + cli_cases() + onnx_cases() + idx_cases() + sweep_cases()
                 + golden_cases())


def files_under(d):
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_catalogue(case, tmp_path):
    tmp = make_tree(str(tmp_path))
    out = os.path.join(tmp, "out")
    argv = case.build(tmp, out)
    p = run(argv, env=dict(ENV, PYTHONPATH=REPO_ROOT), timeout=120, cwd=tmp)
    err = p.stderr.strip()
    lines = [line for line in err.split("\n") if line.strip()]
    assert p.returncode == case.code, f"exit {p.returncode}, expected {case.code}: {err}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    msg = lines[0]
    assert len(msg) <= MAX_CHARS, f"message of {len(msg)} characters: {msg}"
    for bad in FORBIDDEN:
        assert bad not in err, f"{bad!r} in: {err}"
    for word in case.must:
        assert word in msg, f"{word!r} not in: {msg}"
    assert EXPECTATION.search(msg), f"the message does not say what was expected: {msg}"
    assert msg.startswith({"sim": "bayescim: error: ", "sweep": "bayescim-sweep: error: ",
                           "golden": "update.py: error: "}[case.tool]), msg
    assert not os.path.exists(out) or files_under(out) == [], files_under(out)


OPTIONAL_LEAVES = [(rel, prefix, no, key) for rel, prefix in [(EXPERIMENT, "")] + [(p, k) for k, p in INCLUDED.items()]
                   for no, key, _, _ in leaves(read(rel), prefix) if key in OPTIONAL]


@pytest.mark.parametrize("rel,prefix,no,key", OPTIONAL_LEAVES, ids=[k for _, _, _, k in OPTIONAL_LEAVES])
def test_optional_keys_have_defaults(rel, prefix, no, key, tmp_path):
    """The keys the catalogue does not delete as 'missing required key' do have defaults."""
    tmp = make_tree(str(tmp_path))
    with open(os.path.join(tmp, rel), "w") as f:
        f.write(delete_line(read(rel), no))
    p = run([EXE, "validate", os.path.join(tmp, EXPERIMENT)], timeout=120)
    assert p.returncode == 0, p.stderr


def test_every_optional_key_is_in_a_shipped_file():
    assert {k for _, _, _, k in OPTIONAL_LEAVES} == OPTIONAL


def test_catalogue_covers_every_input_and_variant():
    inputs = {c.input for c in ALL}
    assert inputs == {"experiment YAML", "included YAML", "--set", "command line", "ONNX model", "idx dataset",
                      "sweep spec", "golden report"}
    variants = {c.variant for c in ALL}
    assert {"wrong type", "out of range", "NaN or inf", "unknown key", "missing required key", "empty file",
            "binary garbage", "truncated file", "wrong shape", "unsupported op", "unsupported attribute",
            "nonexistent path", "directory where a file belongs"} <= variants
    assert len({c.id for c in ALL}) == len(ALL), "case ids must be unique"


if __name__ == "__main__":
    by = Counter((c.input, c.variant) for c in ALL)
    for (inp, var), n in sorted(by.items()):
        print(f"{inp:18s} {var:32s} {n:4d}")
    print(f"total {len(ALL)} catalogue cases (+ {len(OPTIONAL_LEAVES)} optional-key checks)")
