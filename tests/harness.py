"""What the Python tests share: where things are, how to run the simulator and the sweep driver so
that nothing can hang or outlive its test, and how to read a report (checked against the schema).

Every child runs in its own session (process group). A run that passes its timeout, or a test that
fails while a child is alive, takes the whole group down (SIGKILL), so forked simulator workers,
sweep workers and wrappers go with it. `spawn` (a fixture in tests/python/conftest.py) does the same
for the processes a test starts and signals itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any, Dict, List, Optional, Sequence, Union

from scripts import check_report as report_schema

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO_ROOT, "data")
PY = "/usr/bin/python3"
EXE = os.environ.get("BAYESCIM_EXE") or os.path.join(REPO_ROOT, "build", "bayescim")
SWEEP = os.path.join(REPO_ROOT, "sweep", "bayescim-sweep")
CONFIG = os.path.join(REPO_ROOT, "configs", "experiments", "mnist_mlp_scale.yaml")
ENV = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")

# Seconds. Generous: the slowest single run of the suite takes about 20 s here, and the sanitizer
# suite (scripts/test_asan.sh) runs the same tests about 5x slower.
TIMEOUT = float(os.environ.get("BAYESCIM_TEST_TIMEOUT") or 600)

Arg = Union[str, "os.PathLike[str]"]


def require_exe() -> None:
    assert os.path.exists(EXE), f"{EXE} is missing: build first (scripts/setup.sh --no-run)"


def kill_group(p: "subprocess.Popen[Any]") -> None:
    """SIGKILL to the child's process group (it leads one: start_new_session), then reap it."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def run(argv: Sequence[Arg], *, timeout: float = TIMEOUT, env: Optional[Dict[str, str]] = None,
        cwd: Optional[Arg] = REPO_ROOT, text: bool = True, check: bool = False,
        input: Optional[str] = None) -> "subprocess.CompletedProcess[Any]":
    """subprocess.run with output captured, in a new session, and a deadline: on timeout (or any
    exception while waiting) the whole process group is killed and the exception propagates."""
    args = [os.fspath(a) for a in argv]
    p = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                         env=ENV if env is None else env, cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except BaseException:
        kill_group(p)
        raise
    cp = subprocess.CompletedProcess(args, p.returncode, out, err)
    if check:
        assert cp.returncode == 0, f"{' '.join(args)} failed ({cp.returncode}):\n{cp.stderr}"
    return cp


def run_sim(*args: Arg, check: bool = True, timeout: float = TIMEOUT, env: Optional[Dict[str, str]] = None,
            cwd: Optional[Arg] = REPO_ROOT) -> "subprocess.CompletedProcess[str]":
    """`bayescim ARGS...` (the executable under test: build/bayescim or $BAYESCIM_EXE)."""
    require_exe()
    p = run([EXE, *args], timeout=timeout, env=env, cwd=cwd)
    if check:
        assert p.returncode == 0, f"bayescim {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stderr}"
    return p


def run_sweep(*args: Arg, timeout: float = TIMEOUT, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
    """`sweep/bayescim-sweep ARGS...` with /usr/bin/python3."""
    return run([PY, SWEEP, *args], timeout=timeout, env=env)


def check_report(report: Union[Arg, Dict[str, Any]]) -> Dict[str, Any]:
    """Asserts that a report (a path to report.json, or the parsed dict) conforms to
    docs/report-schema.json and holds no NaN or infinity (scripts/check_report.py, on
    python3-jsonschema); returns the parsed report."""
    if not isinstance(report, dict):
        report = report_schema.load_report(os.fspath(report))
    errors = report_schema.report_errors(report)
    assert not errors, "report.json violates docs/report-schema.json:\n  " + "\n  ".join(errors)
    return report


def read_report(out: Arg) -> Dict[str, Any]:
    """The report.json in folder out, checked against docs/report-schema.json."""
    return check_report(os.path.join(out, "report.json"))


def analog_read_rounding_J(rep: Dict[str, Any]) -> float:
    """The most the analog read energy (`crossbar_read`, devices on the analog path) can differ from
    the exact sum of its column energies: each tile operation's energy is counted in whole 10 aJ
    units (hw/engine/array_engine.h), at most 5 aJ off, and an operation makes at least one read."""
    return 5e-18 * rep["hardware"]["counts"]["array_reads"]


# Report keys that depend on the machine or the checkout location, not on the config and seed.
MACHINE_KEYS = [("wall_s",), ("timing",), ("config",), ("model", "path")]


def without_machine_keys(rep: Dict[str, Any]) -> Dict[str, Any]:
    """The report with MACHINE_KEYS removed (in place; returned for convenience)."""
    for path in MACHINE_KEYS:
        d = rep
        for k in path[:-1]:
            d = d[k]
        d.pop(path[-1], None)
    return rep


def wait_for(predicate: Any, what: str, timeout: float = 120, poll: float = 0.02,
             alive: "Optional[subprocess.Popen[Any]]" = None) -> Any:
    """Polls predicate() until it returns something true, and returns that. Fails after timeout
    seconds, or as soon as `alive` (a process that must still be running) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"waiting for {what}: the process exited first ({alive.returncode})")
        if time.monotonic() > deadline:
            raise AssertionError(f"waiting for {what}: nothing after {timeout} s")
        time.sleep(poll)


class Spawner:
    """Starts processes in their own sessions and kills every group still alive at close()."""

    def __init__(self) -> None:
        self.procs: List["subprocess.Popen[Any]"] = []

    def __call__(self, argv: Sequence[Arg], **kw: Any) -> "subprocess.Popen[Any]":
        kw.setdefault("env", ENV)
        kw.setdefault("cwd", REPO_ROOT)
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw["start_new_session"] = True
        p: "subprocess.Popen[Any]" = subprocess.Popen([os.fspath(a) for a in argv], **kw)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            kill_group(p)


_PM1_MODELS: Dict[str, str] = {}


def pm1_model(name: str = "mnist_mlp_scale.onnx") -> str:
    """A shipped model's weights with the +-1 thresholded first-layer input (input_bits 0), written
    once per process to a temporary file: for the tests whose hand formulas take one read per
    position with every row of the complementary cells conducting (the shipped models read 8-bit
    pixels bit-serially, docs/hardware.md "Multi-bit first-layer input")."""
    if name not in _PM1_MODELS:
        import tempfile

        from models.onnx_export import export_onnx
        from models.onnx_to_torch import onnx_to_torch
        import torch
        model, meta = onnx_to_torch(os.path.join(REPO_ROOT, "models", "pretrained", name))
        # MNIST pixels are mostly 0 or near 255, so q ~ 255 b = 127.5 (x + 1) with x = +-1 the
        # thresholded pixel: sum w q ~ 127.5 (a + S), S = sum of the row's weights. The first
        # layer's alpha takes the 127.5 and its BN mean the offset, so the model still classifies
        # (a dropped alpha of Scale-Dropout would not carry the factor: run it without dropout).
        first = model.layers()[0]
        with torch.no_grad():
            w_sum = first.binary_weight().reshape(first.out_features, -1).sum(1)
            first.bn.running_mean.sub_(127.5 * first.alpha * w_sum)
            first.alpha.mul_(127.5)
        model.input_bits = 0
        path = os.path.join(tempfile.mkdtemp(prefix="bayescim-pm1-"), name)
        export_onnx(model, path, dataset=meta.get("bayescim.dataset", "mnist"))
        _PM1_MODELS[name] = path
    return _PM1_MODELS[name]
