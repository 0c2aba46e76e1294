"""What a Dask worker runs for one sweep point: the bayescim executable in the point's folder.

This module is shipped to the workers by value (cloudpickle.register_pickle_by_value), so a
worker started with a plain `dask-worker` does not need the sweep package on its path; it only
needs the executable, the configs, the model and the data at the same paths (a shared
filesystem, as on a cluster). It imports nothing outside the standard library.

Exactly-once: the point's folder holds a lock file. The task takes an exclusive flock on it and
hands the locked descriptor to the simulator, which runs in its own session. If the driver or
the worker is killed, the simulator keeps running and keeps the lock until its report is
written; a rerun's task for that point waits on the lock, then finds the complete report and
returns it without invoking the simulator again.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from typing import Any, Dict, Optional

LOCK_NAME = ".lock"
POINT_NAME = "point.json"
REPORT_NAME = "report.json"
ERROR_NAME = "error.json"
LOG_NAME = "sim.log"


def write_atomic(path: str, text: str) -> None:
    """Writes text to path via a temporary file in the same folder and a rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def complete_report(folder: str, hash_: str) -> Optional[Dict[str, Any]]:
    """The point's report if the folder holds a complete report.json for this hash, else None."""
    meta = read_json(os.path.join(folder, POINT_NAME))
    if not meta or meta.get("hash") != hash_:
        return None
    rep = read_json(os.path.join(folder, REPORT_NAME))
    if not isinstance(rep, dict) or not isinstance(rep.get("metrics"), dict) or "energy" not in rep:
        return None
    return rep


def _tail(path: str, lines: int = 12, limit: int = 2000) -> str:
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return ""
    text = "\n".join(l for l in text.splitlines() if l.strip())
    return "\n".join(text.splitlines()[-lines:])[-limit:]


def _error_message(log_text: str, rc: int) -> str:
    """The simulator's own error line if there is one, else a summary of the exit."""
    for line in reversed(log_text.splitlines()):
        if "error:" in line:
            return line.strip()
    if rc is not None and rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"


def run_point(task: Dict[str, Any]) -> Dict[str, Any]:
    """Runs one point unless its folder already holds its complete report. Returns a small dict:
    status (ok|failed), invoked (whether the simulator was started here), report (parsed
    report.json, so a driver without a shared filesystem still gets it), error, rc, wall_s,
    worker (host:pid)."""
    folder = task["dir"]
    os.makedirs(folder, exist_ok=True)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    t0 = time.time()
    lock_fd = os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)  # waits for a simulator left running by a killed sweep
        waited = time.time() - t0
        rep = None if task.get("force") else complete_report(folder, task["hash"])
        if rep is not None:
            return {"hash": task["hash"], "status": "ok", "invoked": False, "report": rep,
                    "waited_s": waited, "worker": worker, "wall_s": 0.0}
        meta = dict(task["meta"])
        meta.update(hash=task["hash"], command=task["argv"], worker=worker,
                    started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        write_atomic(os.path.join(folder, POINT_NAME), json.dumps(meta, indent=1, sort_keys=True) + "\n")
        for stale in (ERROR_NAME, REPORT_NAME):
            try:
                os.unlink(os.path.join(folder, stale))
            except FileNotFoundError:
                pass
        env = dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1")
        log_path = os.path.join(folder, LOG_NAME)
        t1 = time.time()
        rc: Any = None  # exit code, or "timeout"
        with open(log_path, "w") as log:
            # Own session: a Ctrl-C or SIGKILL of the sweep does not reach the simulator, which
            # finishes and releases the lock (the descriptor it inherits) when it exits.
            proc = subprocess.Popen(task["argv"], cwd=task["cwd"], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, pass_fds=(lock_fd,),
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=task.get("timeout_s"))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = "timeout"
        wall = time.time() - t1
        rep = complete_report(folder, task["hash"]) if rc == 0 else None
        if rep is not None:
            return {"hash": task["hash"], "status": "ok", "invoked": True, "report": rep,
                    "waited_s": waited, "worker": worker, "wall_s": wall}
        log_text = _tail(log_path)
        if rc == "timeout":
            msg = f"timed out after {task.get('timeout_s')} s"
        elif rc == 0:
            msg = "the simulator exited 0 but left no complete report.json"
        else:
            msg = _error_message(log_text, rc)
        err = {"hash": task["hash"], "rc": rc, "error": msg, "log_tail": log_text, "command": task["argv"],
               "worker": worker, "wall_s": wall}
        write_atomic(os.path.join(folder, ERROR_NAME), json.dumps(err, indent=1) + "\n")
        return {"hash": task["hash"], "status": "failed", "invoked": True, "report": None, "error": msg,
                "rc": rc, "log_tail": log_text, "waited_s": waited, "worker": worker, "wall_s": wall}
    finally:
        os.close(lock_fd)
