"""Running a sweep's missing points on Dask distributed, with progress, resume and the outputs."""

import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from . import results as R
from . import task as T

if TYPE_CHECKING:
    from .expansion import Point
    from .spec import Spec


def log(msg: str, end: str = "\n") -> None:
    sys.stderr.write(msg + end)
    sys.stderr.flush()


class Progress:
    """Done / failed / remaining with rate and ETA: a live line on a terminal, a line every 10 s
    otherwise (and always at the end)."""

    def __init__(self, total: int, reused: int, quiet: bool = False,
                 describe_cluster: Optional[Callable[[], str]] = None) -> None:
        self.total = total
        self.reused = reused  # complete before this run started
        self.done = 0  # completed by this run (simulated, or finished by a killed earlier run)
        self.failed = 0
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.t0 = time.time()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.describe_cluster = describe_cluster
        self.last_len = 0
        self.thread: Optional[threading.Thread] = None

    def start(self) -> None:
        if not self.quiet:
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        period = 1.0 if self.tty else 10.0
        while not self.stop.wait(period):
            self.show()

    def line(self) -> str:
        with self.lock:
            finished = self.done + self.failed
            remaining = self.total - self.reused - finished
            el = time.time() - self.t0
            rate = finished / el if el > 0 and finished else 0.0
            eta = f"ETA {_dur(remaining / rate)}" if rate > 0 else "ETA ?"
            s = (f"[sweep] {self.reused + self.done}/{self.total} done"
                 + (f" ({self.reused} reused)" if self.reused else "")
                 + f", {self.failed} failed, {remaining} remaining | {rate:.2f} points/s"
                 + (f" | {eta}" if remaining else "") + f" | elapsed {_dur(el)}")
        if self.describe_cluster:
            extra = self.describe_cluster()
            if extra:
                s += f" | {extra}"
        return s

    def show(self, final: bool = False) -> None:
        if self.quiet and not final:
            return
        s = self.line()
        if self.tty and not final:
            pad = max(0, self.last_len - len(s))
            sys.stderr.write("\r" + s + " " * pad)
            sys.stderr.flush()
            self.last_len = len(s)
        else:
            if self.tty and self.last_len:
                sys.stderr.write("\r" + " " * self.last_len + "\r")
            log(s)

    def note(self, msg: str) -> None:
        """A message above the live line."""
        if self.tty and self.last_len:
            sys.stderr.write("\r" + " " * self.last_len + "\r")
            self.last_len = 0
        log(msg)

    def finish(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=2)


def _dur(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def build_task(spec: "Spec", point: "Point", exe: str, root: str, jobs: int, timeout_s: Optional[float],
               exe_sha256: Optional[str] = None, force: bool = False) -> Dict[str, Any]:
    folder = R.point_dir(root, point)
    argv = [exe, "run", point.base, *point.set_args(spec), "--out", folder, "--quiet"]
    if jobs and jobs > 1:
        argv += ["--jobs", str(jobs)]
    meta = {"sweep": spec.name, "index": point.index, "base": point.base_label,
            "values": {k: v for k, v in point.values.items()},
            "overrides": [[k, v] for k, v in point.overrides], "exe": exe, "exe_sha256": exe_sha256}
    return {"hash": point.hash, "dir": folder, "argv": argv, "cwd": spec.dir, "timeout_s": timeout_s, "meta": meta,
            "force": force}


def _record_locally(task: Dict[str, Any], res: Dict[str, Any]) -> None:
    """Without a shared filesystem the driver gets the report back from the worker: keep it in the
    point's folder here too, so resume works from the driver's side."""
    folder = task["dir"]
    if T.complete_report(folder, task["hash"]) is not None:
        return
    os.makedirs(folder, exist_ok=True)
    meta = dict(task["meta"], hash=task["hash"], command=task["argv"], worker=res.get("worker"))
    if res.get("status") == "ok" and res.get("report") is not None:
        T.write_atomic(os.path.join(folder, T.POINT_NAME), json.dumps(meta, indent=1, sort_keys=True) + "\n")
        T.write_atomic(os.path.join(folder, T.REPORT_NAME), json.dumps(res["report"], indent=1) + "\n")
    elif res.get("status") == "failed":
        err = {"hash": task["hash"], "rc": res.get("rc"), "error": res.get("error"),
               "log_tail": res.get("log_tail", ""), "command": task["argv"], "worker": res.get("worker")}
        T.write_atomic(os.path.join(folder, T.ERROR_NAME), json.dumps(err, indent=1) + "\n")


def start_client(scheduler: Optional[str], workers: Optional[int], dashboard: bool,
                 scheduler_file: Optional[str] = None) -> Tuple[Any, Any, str]:
    import dask
    from distributed import Client, LocalCluster

    # A point whose worker dies is retried on another worker up to 3 times (then: failed, KilledWorker).
    logging.getLogger("distributed.diskutils").setLevel(logging.WARNING)  # "purging stale lock" after a kill
    # the scheduler's HTTP server (health checks) moves to a free port when 8787 is taken: fine
    warnings.filterwarnings("ignore", message="Port 8787 is already in use", category=UserWarning)
    dask.config.set({"distributed.scheduler.allowed-failures": 3,
                     "distributed.comm.timeouts.connect": "30s"})
    if scheduler or scheduler_file:
        client = Client(scheduler, scheduler_file=scheduler_file, timeout="30s")
        return client, None, f"Dask scheduler {client.scheduler.address}"
    # The worker processes ignore SIGINT (the disposition survives their exec): a Ctrl-C on the
    # terminal reaches the whole process group, and only the driver should act on it.
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":8787" if dashboard else None, memory_limit=0,
                               silence_logs=logging.ERROR)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    client = Client(cluster)
    where = f"a local Dask cluster of {workers} worker process(es), 1 thread each"
    if dashboard:
        where += f", dashboard {client.dashboard_link}"
    return client, cluster, where


def run(spec: "Spec", exe: str, root: str, scheduler: Optional[str] = None, scheduler_file: Optional[str] = None,
        workers: Optional[int] = None, jobs: Optional[int] = None, timeout_s: Optional[float] = None,
        quiet: bool = False, plots: bool = True, retry_failed: bool = True, dashboard: bool = False,
        force: bool = False) -> int:
    """Runs the points of `spec` that have no complete report in `root`/points/, then writes
    results.csv, summary.md and the plots. Returns the exit code: 0 all points done, 4 some failed
    or not run, 130 interrupted (SIGINT), 143 (SIGTERM)."""
    jobs = jobs or spec.jobs
    timeout_s = timeout_s if timeout_s is not None else spec.timeout_s
    os.makedirs(os.path.join(root, "points"), exist_ok=True)
    T.write_atomic(os.path.join(root, "sweep.yaml"), spec.text)

    states = {p.hash: ("pending" if force else R.point_state(root, p)[0]) for p in spec.points}
    from .spec import file_digest
    exe_sha256 = file_digest(exe)
    reused = sum(1 for s in states.values() if s == "ok")
    todo = [p for p in spec.points if states[p.hash] == "pending" or (states[p.hash] == "failed" and retry_failed)]
    skipped_failed = sum(1 for s in states.values() if s == "failed") if not retry_failed else 0
    log(f"[sweep] {spec.name}: {len(spec.points)} points, {reused} already complete, {len(todo)} to run"
        + (f", {skipped_failed} failed earlier (not retried)" if skipped_failed else "") + f"; output {root}")

    run_info: Dict[str, Any] = {"ran": 0, "reused": reused, "failed": 0, "wall_s": 0.0, "cluster": "nothing to run",
                "mean_point_s": 0.0}
    interrupted = 0  # the exit code of an interruption: 130 SIGINT, 143 SIGTERM
    t0 = time.time()
    if todo:
        cores = os.cpu_count() or 1
        workers = workers or max(1, cores // max(1, jobs))
        import cloudpickle
        from distributed import as_completed

        cloudpickle.register_pickle_by_value(T)  # workers need not import this package
        try:
            client, cluster, where = start_client(scheduler, workers, dashboard, scheduler_file)
        except (OSError, TimeoutError, ValueError) as e:
            log(f"bayescim-sweep: error: cannot reach the Dask cluster "
                f"({scheduler or scheduler_file or 'local'}): {type(e).__name__}: {e}")
            write_outputs(spec, root, run_info, exe=exe, plots=False)
            return 1
        run_info["cluster"] = where
        log(f"[sweep] running on {where}" + (f"; --jobs {jobs} inside each point" if jobs > 1 else ""))

        def describe() -> str:
            if cluster is not None:
                return ""
            try:
                n = len(client.scheduler_info()["workers"])
            except Exception:  # noqa: BLE001 - progress display only
                return ""
            return f"{n} worker(s)" if n else "waiting for workers"

        prog = Progress(len(spec.points), reused, quiet=quiet, describe_cluster=describe)
        tasks = {}
        futures = []
        try:
            for p in todo:
                t = build_task(spec, p, exe, root, jobs, timeout_s, exe_sha256, force)
                f = client.submit(T.run_point, t, key=f"bayescim-point-{p.short}-{os.getpid()}-{int(t0)}",
                                  pure=False, priority=-p.index)
                tasks[f.key] = (t, p)
                futures.append(f)
            prog.start()
            walls = []
            for f in as_completed(futures):
                t, p = tasks[f.key]
                try:
                    res = f.result()
                except Exception as e:  # noqa: BLE001 - a lost worker, a cancelled task: record it
                    res = {"hash": p.hash, "status": "failed", "error": f"{type(e).__name__}: {e}",
                           "rc": None, "invoked": None}
                _record_locally(t, res)
                with prog.lock:
                    if res["status"] == "ok":
                        prog.done += 1
                        if res.get("invoked"):
                            run_info["ran"] += 1
                            walls.append(res.get("wall_s") or 0.0)
                    else:
                        prog.failed += 1
                        run_info["failed"] += 1
                if res["status"] != "ok":
                    prog.note(f"[sweep] point {p.short} ({p.label()}) failed: {res.get('error')}")
                elif not res.get("invoked"):
                    if not quiet:
                        prog.note(f"[sweep] point {p.short} ({p.label()}): completed by the simulator that an "
                                  f"interrupted run or a lost worker left running")
            run_info["mean_point_s"] = sum(walls) / len(walls) if walls else 0.0
        except KeyboardInterrupt as e:
            interrupted = 143 if type(e).__name__ == "Terminated" else 130
            prog.note(f"[sweep] interrupted by {'SIGTERM' if interrupted == 143 else 'SIGINT'}: pending points cancelled; points already running finish in the "
                      "background and are picked up by the next run of the same command")
            try:
                client.cancel(futures, force=True)
            except Exception:  # noqa: BLE001
                pass
        finally:
            prog.finish()
            run_info["wall_s"] = time.time() - t0
            try:
                client.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass
            if cluster is not None:
                try:
                    cluster.close(timeout=10)
                except Exception:  # noqa: BLE001
                    pass
        prog.show(final=True)

    code = write_outputs(spec, root, run_info, exe=exe, plots=plots)
    return interrupted if interrupted else code


def write_outputs(spec: "Spec", root: str, run_info: Optional[Dict[str, Any]] = None, exe: Optional[str] = None,
                  plots: bool = True) -> int:
    columns, rows = R.collect(spec, root)
    R.write_csv(os.path.join(root, "results.csv"), columns, rows)
    pngs = []
    if plots:
        from . import plots as P
        try:
            pngs = P.make_plots(spec, root, rows)
        except Exception as e:  # noqa: BLE001 - plots must never cost the results
            log(f"[sweep] warning: plotting failed: {type(e).__name__}: {e}")
    R.write_summary(spec, root, columns, rows, run=run_info, plots=pngs, exe=exe)
    ok = sum(r["status"] == "ok" for r in rows)
    failed = [r for r in rows if r["status"] == "failed"]
    pending = [r for r in rows if r["status"] == "pending"]
    log(f"[sweep] {ok} done, {len(failed)} failed, {len(pending)} not run, of {len(rows)} points; "
        f"results: {os.path.join(root, 'results.csv')}, summary: {os.path.join(root, 'summary.md')}"
        + (f", {len(pngs)} plots in {os.path.join(root, 'plots')}" if pngs else ""))
    if failed:
        log("[sweep] failed points:")
        for r in failed:
            log(f"  {r['point']}  {R._label(spec, r)}: {r['error']}")
    return 0 if not failed and not pending else 4
