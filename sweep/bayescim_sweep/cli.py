"""bayescim-sweep: design-space sweeps of the bayescim simulator on Dask distributed.

    sweep/bayescim-sweep run SPEC.yaml [options]       run the missing points, write the outputs
    sweep/bayescim-sweep validate SPEC.yaml [--list]   check the spec and every point, run nothing
    sweep/bayescim-sweep report SPEC.yaml [--out DIR]  rewrite results.csv, summary.md, plots

Exit codes: 0 success (every point done); 1 input error (spec, simulator validation, missing
executable or model); 2 usage error; 3 internal error; 4 some points failed or were not run;
130 interrupted by SIGINT (Ctrl-C); 143 interrupted by SIGTERM. Interrupted: pending points are
cancelled, points already running finish in the background (their reports are written
atomically) and the next run of the same command picks them up.
"""

import argparse
import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Any, NoReturn, Optional, Sequence

from . import spec as S

if TYPE_CHECKING:
    from .spec import Spec

PROG = "bayescim-sweep"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def threading_main() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _err(msg: str) -> None:
    sys.stderr.write(f"{PROG}: error: {msg}\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        _err(message)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Design-space sweeps of bayescim on Dask distributed.",
                epilog="exit codes: 0 ok, 1 input error, 2 usage error, 3 internal error, "
                       "4 some points failed or not run, 130 interrupted")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("spec", help="sweep spec (YAML), e.g. configs/sweeps/mlp_array_adc.yaml")
        sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set_",
                        help="add or replace a fixed override of every point, e.g. --set data.limit=0 "
                             "(changes the point hashes: use another --out for a different version)")
        sp.add_argument("--exe", default=os.environ.get("BAYESCIM_EXE", os.path.join(REPO, "build", "bayescim")),
                        help="the bayescim executable (default: $BAYESCIM_EXE or build/bayescim)")

    r = sub.add_parser("run", help="run the missing points and write results.csv, summary.md, plots")
    common(r)
    r.add_argument("--out", help="output folder (default: the spec's 'output', else out/sweeps/NAME)")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask cluster, e.g. tcp://10.0.0.1:8786")
    g.add_argument("--scheduler-file", metavar="FILE", help="use an existing Dask cluster via its scheduler file")
    r.add_argument("--workers", type=int, help="local cluster: worker processes (default: cores / jobs)")
    r.add_argument("--jobs", type=int, help="bayescim --jobs inside each point (default: the spec's, else 1)")
    r.add_argument("--timeout", type=float, help="seconds per point before it is killed and failed")
    r.add_argument("--force", action="store_true",
                   help="rerun every point even if its folder holds a complete report (e.g. after changing "
                        "the simulator, which the point hash does not cover)")
    r.add_argument("--skip-failed", action="store_true", help="do not retry points that failed in an earlier run")
    r.add_argument("--no-validate", action="store_true", help="skip the check of every point with bayescim validate")
    r.add_argument("--validate-max-points", type=int, default=2000,
                   help="validate whole points only up to this many (each axis value is always validated)")
    r.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    r.add_argument("--dashboard", action="store_true", help="local cluster: serve the Dask dashboard on :8787")
    r.add_argument("--quiet", action="store_true", help="no progress lines (the final summary is still printed)")

    v = sub.add_parser("validate", help="check the spec and every point against the simulator; run nothing")
    common(v)
    v.add_argument("--list", action="store_true", help="list the points with their hashes")
    v.add_argument("--no-simulator", action="store_true", help="check the spec only, not with bayescim validate")
    v.add_argument("--validate-max-points", type=int, default=2000)

    rep = sub.add_parser("report", help="rewrite results.csv, summary.md and the plots from the point folders")
    common(rep)
    rep.add_argument("--out")
    rep.add_argument("--no-plots", action="store_true")
    return p


def _check_exe(exe: str) -> bool:
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        _err(f"simulator executable not found: {exe} (build it: cmake --build build -j2, or pass --exe)")
        return False
    return True


def _output(spec: "Spec", out: Optional[str]) -> str:
    if out:
        return os.path.abspath(out)
    if spec.output:
        return os.path.abspath(spec.output)
    return os.path.abspath(os.path.join("out", "sweeps", spec.name))


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (exit code 143 instead of 130)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
    raise Terminated()


def main(argv: Optional[Sequence[str]] = None) -> int:
    if threading_main():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    except KeyboardInterrupt as e:  # outside the run loop (parsing, validation, the last outputs)
        _err("interrupted by SIGTERM" if isinstance(e, Terminated) else "interrupted")
        return 143 if isinstance(e, Terminated) else 130


def exit_quietly(code: int) -> NoReturn:
    """sys.exit for the launchers: a signal that arrives once everything is written (while Dask
    shuts down) changes nothing, so it no longer interrupts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)


def _main(argv: Optional[Sequence[str]]) -> int:
    args = _parser().parse_args(argv)
    for name in ("workers", "jobs", "validate_max_points"):
        val = getattr(args, name, None)
        if val is not None and val < 1:
            _err(f"--{name.replace('_', '-')} must be at least 1, got {val}")
            return 2
    if getattr(args, "timeout", None) is not None and args.timeout <= 0:
        _err(f"--timeout must be positive, got {args.timeout}")
        return 2
    try:
        try:
            spec = S.Spec(args.spec, cli_set=args.set_)
        except S.SpecError as e:
            for m in e.messages:
                _err(m)
            return 1
        exe = os.path.abspath(args.exe)
        if args.cmd == "report":
            from . import engine
            return engine.write_outputs(spec, _output(spec, args.out), exe=exe, plots=not args.no_plots)

        if args.cmd == "validate" and args.no_simulator:
            n_checked = 0
        elif args.cmd == "run" and args.no_validate:
            n_checked = None
        else:
            if not _check_exe(exe):
                return 1
            try:
                n_checked = S.check_with_simulator(spec, exe, max_points=args.validate_max_points)
            except S.SpecError as e:
                for m in e.messages:
                    _err(m)
                return 1
        if args.cmd == "validate":
            blocks = len(spec.blocks)
            print(f"{spec.path}: valid: {len(spec.points)} points"
                  + (f" in {blocks} blocks" if blocks > 1 else "")
                  + (f" ({spec.duplicates} duplicates merged)" if spec.duplicates else "")
                  + (f", {n_checked} simulator validations passed" if n_checked else ""))
            if args.list:
                for p in spec.points:
                    print(f"  {p.index:4d}  {p.short}  {p.base_label}  {p.label()}")
            return 0
        if not _check_exe(exe):
            return 1
        from . import engine
        return engine.run(spec, exe, _output(spec, args.out), scheduler=args.scheduler,
                          scheduler_file=args.scheduler_file, workers=args.workers, jobs=args.jobs,
                          timeout_s=args.timeout, quiet=args.quiet, plots=not args.no_plots,
                          retry_failed=not args.skip_failed, dashboard=args.dashboard, force=args.force)
    except KeyboardInterrupt as e:
        _err("interrupted by SIGTERM" if isinstance(e, Terminated) else "interrupted")
        return 143 if isinstance(e, Terminated) else 130
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        _err(f"internal error: {type(e).__name__}: {e}")
        return 3
