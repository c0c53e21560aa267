"""A classroom on one machine: Redis for the class rooms, N app servers, HAProxy in front.

    from deploy.stack import stack
    with stack(replicas=2, port=None, log_dir=Path("logs")) as s:
        s.url, s.redis_url, s.replicas, s.kill("r1")

or, as `make classroom` runs it: `python -m deploy.stack --replicas N --port P [--host 0.0.0.0]`
(Ctrl-C or SIGTERM stops everything). Every process listens on loopback unless the command is
asked for another address, each in its own process group, stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deploy.haproxy import UPLOAD_RATE, render

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "run `make classroom`, which installs them (apt-get install -y haproxy redis-server)"


class StackError(RuntimeError):
    """The stack cannot start: a missing program, a busy port, a server that did not come up."""


@dataclass
class Replica:
    name: str  # r1, r2…: HAProxy's server name, its SRV cookie and X-Replica header
    url: str  # http://127.0.0.1:PORT, the app server itself (not through the load balancer)
    pid: int  # the streamlit process (the leader of its own process group)
    proc: subprocess.Popen = field(repr=False, compare=False)


@dataclass
class Stack:
    url: str  # the load balancer
    redis_url: str
    replicas: list[Replica]
    log_dir: Path
    config: Path  # the HAProxy configuration it runs
    stats_socket: Path
    procs: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def replica(self, name: str) -> Replica:
        for r in self.replicas:
            if r.name == name:
                return r
        raise ValueError(f"no replica {name!r}; there are {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [r.name for r in self.replicas]

    def kill(self, name: str) -> None:
        """SIGKILL one replica, as a crash would: its sessions are gone, its clients fail over."""
        proc = self.replica(name).proc
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def states(self) -> dict[str, str]:
        """Each replica's state as HAProxy sees it: "UP", "DOWN", "UP 1/2"…"""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        names = self.names()
        return {r["svname"]: r["status"] for r in rows if r["svname"] in names}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def require(program: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found is None:
        raise StackError(f"{program} is not installed: {INSTALL}")
    return found


def _start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, never by Ctrl-C alone
            env={**os.environ, **(env or {})},
        )


def _stop(procs: list[subprocess.Popen], grace: float = 10) -> None:
    """SIGTERM every process group, wait up to `grace` seconds, SIGKILL what is left."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group: a child it left behind too
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def _tail(log: Path, n: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _wait(ready, proc: subprocess.Popen, what: str, log: Path, timeout: float) -> None:
    """Until ready() is true; a StackError whose first line says why (the log's last line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = _tail(log)
            last = ([line for line in tail.splitlines() if line.strip()] or ["no output"])[-1]
            raise StackError(f"{what} exited with code {proc.returncode}: {last}\n{tail}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not come up within {timeout:.0f} s (see {log})\n{_tail(log)}")


def _check_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as err:
            raise StackError(f"cannot listen on {host}:{port}: {err.strerror}") from None


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200


def _redis_ok(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def streamlit_cmd(port: int, script: Path = ROOT / "app" / "main.py") -> list[str]:
    """An app server on a loopback port: headless, no file watcher, no usage stats (the stack's
    replicas and tests/browser.py's streamlit_server)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(script)]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    cmd += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    return [*cmd, "--server.fileWatcherType", "none"]


def redis_cmd(binary: str, port: int, folder: Path) -> list[str]:
    """A Redis for class rooms on a loopback port, in the foreground, nothing saved to disk
    (the stack's and tests/servers.py's)."""
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    cmd += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    return [*cmd, "--daemonize", "no", "--protected-mode", "yes"]


@contextlib.contextmanager
def stack(
    replicas: int = 2,
    port: int | None = None,
    log_dir: Path | None = None,
    *,
    host: str = "127.0.0.1",
    upload_rate: int = UPLOAD_RATE,
    timeout: float = 180,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start Redis, `replicas` app servers and HAProxy on `host`:`port` (None: a free port);
    yield the running Stack; stop them all on the way out. Logs go to log_dir (a temporary
    folder if None): redis.log, r1.log…, haproxy.log, haproxy.cfg."""
    if not 1 <= replicas <= 64:
        raise ValueError(f"replicas ({replicas}) must be between 1 and 64")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port ({port}) must be between 1 and 65535")
    redis_bin, haproxy_bin = require("redis-server"), require("haproxy")
    if port:
        _check_free(host, port)  # before a minute of starting app servers, not after
    with contextlib.ExitStack() as cleanup:
        if log_dir is None:
            log_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="stack-")))
        log_dir = Path(log_dir).resolve()
        log_dir.mkdir(parents=True, exist_ok=True)
        procs: list[subprocess.Popen] = []
        cleanup.callback(_stop, procs)

        redis_port = free_port()
        redis_log = log_dir / "redis.log"
        procs.append(_start(redis_cmd(redis_bin, redis_port, log_dir), redis_log))
        _wait(lambda: _redis_ok(redis_port), procs[-1], "redis-server", redis_log, 30)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"

        # one cookie secret for every replica: a session that fails over keeps a valid XSRF
        # cookie, so its uploads still go through on the replica it lands on
        app_env = {
            **(env or {}),
            "ENCODER_EXPLORER_STORE": redis_url,
            "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32),
        }
        started = []
        for i in range(1, replicas + 1):
            rport, log = free_port(), log_dir / f"r{i}.log"
            proc = _start(streamlit_cmd(rport), log, app_env)
            procs.append(proc)
            started.append(Replica(f"r{i}", f"http://127.0.0.1:{rport}", proc.pid, proc))
        for r in started:
            health = f"{r.url}/_stcore/health"
            log = log_dir / f"{r.name}.log"
            _wait(lambda h=health: _http_ok(h), r.proc, f"app server {r.name}", log, timeout)

        lb_port = port or free_port(host)
        config, sock = log_dir / "haproxy.cfg", log_dir / "haproxy.sock"
        servers = [(r.name, r.url.removeprefix("http://")) for r in started]
        bind = f"[{host}]:{lb_port}" if ":" in host else f"{host}:{lb_port}"
        config.write_text(render(servers, bind, stats_socket=str(sock), upload_rate=upload_rate))
        check = subprocess.run([haproxy_bin, "-c", "-q", "-f", str(config)], capture_output=True)
        if check.returncode:
            raise StackError(f"haproxy refused {config}: {check.stderr.decode()[-2000:]}")
        lb_log = log_dir / "haproxy.log"
        procs.append(_start([haproxy_bin, "-db", "-f", str(config)], lb_log))
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        url = f"http://{local}:{lb_port}"
        _wait(lambda: _http_ok(f"{url}/_stcore/health"), procs[-1], "haproxy", lb_log, 30)
        yield Stack(url, redis_url, started, log_dir, config, sock, procs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.stack",
        description="Redis, N app servers and HAProxy in front; Ctrl-C stops them all.",
    )
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 1, help="app servers")
    parser.add_argument("--port", type=int, default=8080, help="the load balancer's port")
    parser.add_argument(
        "--host", default="127.0.0.1", help="its address (0.0.0.0: every network interface)"
    )
    parser.add_argument("--log-dir", type=Path, default=ROOT / "data" / "classroom-stack")
    args = parser.parse_args(argv)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        with stack(args.replicas, args.port, args.log_dir, host=args.host) as s:
            names = ", ".join(f"{r.name} {r.url}" for r in s.replicas)
            print(f"Class room stack: {s.url} (replicas {names}; rooms in {s.redis_url})")
            print(f"Logs in {s.log_dir}. Ctrl-C stops everything.", flush=True)
            while all(p.poll() is None for p in s.procs):
                time.sleep(0.5)
            gone = [r.name for r in s.replicas if r.proc.poll() is not None]
            print(f"stopping: a process of the stack exited ({', '.join(gone) or 'redis/haproxy'})")
            return 1
    except KeyboardInterrupt:
        print("stopped")
        return 0
    except (StackError, ValueError, OSError) as err:
        first, *_ = str(err).splitlines() or [type(err).__name__]
        print(f"error: {first} (logs in {args.log_dir})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
