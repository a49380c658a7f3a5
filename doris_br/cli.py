"""doris-br start | fe | be | metastore.

`start` runs one FE and N BEs as child processes in the foreground: BEs first (each on a free port that it
keeps across restarts), then the FE, which registers them. It prints one line once the FE accepts
connections, and on Ctrl-C or SIGTERM stops the FE, then the BEs. Children die with the launcher even when
it is killed with SIGKILL (PR_SET_PDEATHSIG), so no process is left behind.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from doris_br import config as cfg

PR_SET_PDEATHSIG = 1
READY_TIMEOUT_S = 60.0


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: children then rely on the launcher's clean shutdown
        pass


def spawn(args: list[str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m doris_br <args>` logging to log_path; return it and its ready line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "doris_br", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    deadline = time.time() + READY_TIMEOUT_S
    while time.time() < deadline:
        with open(log_path, "rb") as f:
            f.seek(offset)
            for line in f.read().decode(errors="replace").splitlines():
                if " ready on " in line:
                    return proc, line
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"doris-br: {' '.join(args[:1])} did not start; see {log_path}")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cmd_start(args: argparse.Namespace) -> int:
    fe_conf = cfg.load(cfg.FeConfig, args.conf, vars(args))
    data_dir = Path(fe_conf.data_dir).resolve()
    logs = data_dir / "log"
    backends: list[subprocess.Popen[bytes]] = []
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fe = None
    try:
        addresses = []
        for i in range(fe_conf.backends):
            proc, line = spawn(["be", "--storage-root", str(data_dir / f"be{i}"), "--host", fe_conf.host,
                                 *(["--conf", args.be_conf] if args.be_conf else [])], logs / f"be{i}.log")
            backends.append(proc)
            addresses.append(line.split(" ready on ")[1].split()[0])
        fe_args = ["fe", "--data-dir", str(data_dir), "--host", fe_conf.host, "--query-port",
                   str(fe_conf.query_port), "--http-port", str(fe_conf.http_port)]
        if args.conf:
            fe_args += ["--conf", args.conf]
        if addresses:
            fe_args += ["--auto-backends", ",".join(addresses)]
        fe, line = spawn(fe_args, logs / "fe.log")
        port = line.split(" ready on ")[1].split()[0].rsplit(":", 1)[1]
        console = line.rsplit(" ", 1)[1] if "http://" in line else ""
        print(f"doris-br is ready: mysql -h{fe_conf.host} -P{port} -uroot  console {console}  ({len(backends)} BEs, "
              f"data in {data_dir}, logs in {logs})", flush=True)
        while not stopping:
            if fe.poll() is not None:
                print(f"doris-br: the FE exited with code {fe.returncode}; see {logs / 'fe.log'}", flush=True)
                return fe.returncode or 1
            time.sleep(0.2)
        return 0
    finally:
        stop([p for p in [fe] if p is not None])
        stop(backends)


def cmd_fe(args: argparse.Namespace) -> int:
    from doris_br.fe.frontend import run_fe

    fe_conf = cfg.load(cfg.FeConfig, args.conf, vars(args))
    auto = [a for a in (args.auto_backends or "").split(",") if a]
    run_fe(fe_conf, auto)
    return 0


def cmd_be(args: argparse.Namespace) -> int:
    from doris_br.be.server import run_be

    # --storage-root replaces be.conf's storage_root_path too, so the root it names is the one used.
    overrides = {"host": args.host, "be_port": args.port, "storage_root": args.storage_root,
                 "storage_root_path": args.storage_root}
    run_be(cfg.load(cfg.BeConfig, args.conf, overrides))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doris-br", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def fe_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--conf", default="conf/fe.conf", help="fe.conf to read (default: conf/fe.conf)")
        p.add_argument("--data-dir", dest="data_dir", help="where metadata and BE data live (./doris_br_data)")
        p.add_argument("--host", help="address to listen on (127.0.0.1)")
        p.add_argument("--query-port", dest="query_port", type=int, help="MySQL port (9030; 0 picks a free one)")
        p.add_argument("--http-port", dest="http_port", type=int,
                       help="HTTP port: Stream Load, REST API, console (8030; 0 picks a free one)")

    start = sub.add_parser("start", help="run one FE and N BEs until Ctrl-C")
    fe_options(start)
    start.add_argument("--backends", type=int, help="number of BE processes (3)")
    start.add_argument("--be-conf", dest="be_conf", default="conf/be.conf", help="be.conf for the BEs")
    start.set_defaults(func=cmd_start)

    fe = sub.add_parser("fe", help="run one FE")
    fe_options(fe)
    fe.add_argument("--auto-backends", dest="auto_backends", help="host:port,... BEs to register at start")
    fe.set_defaults(func=cmd_fe)

    be = sub.add_parser("be", help="run one BE")
    be.add_argument("--conf", default="conf/be.conf", help="be.conf to read (default: conf/be.conf)")
    be.add_argument("--storage-root", dest="storage_root", help="the BE's data folder; a .SSD or .HDD suffix "
                    "names its medium (default: be.conf's storage_root_path)")
    be.add_argument("--host", help="address to listen on (127.0.0.1)")
    be.add_argument("--port", type=int, help="Flight port (0 picks a free one, kept across restarts)")
    be.set_defaults(func=cmd_be)

    from doris_br.metastore.cli import add_parser as add_metastore

    add_metastore(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(args.func(args))
