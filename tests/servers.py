"""Real servers for tests: Redis on a free loopback port (Debian's redis-server, installed by
`make test` as Chromium is), started and stopped by a context manager."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.browser import free_port


def require_redis() -> str:
    """redis-server's path; skips where it is missing (CI must have it: `make test` installs it)."""
    import pytest

    found = shutil.which("redis-server")
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI needs redis-server: apt-get install redis-server")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return found


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A throwaway Redis (no persistence) on a free port; yields its redis:// URL."""
    import redis

    binary = require_redis()
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    cmd += ["--dir", str(folder), "--daemonize", "no", "--protected-mode", "yes"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def require_stack() -> None:
    """haproxy and redis-server for deploy.stack; skips where one is missing (CI must have
    them: `make test` installs both)."""
    import pytest

    from deploy.stack import StackError, require

    for program in ("redis-server", "haproxy"):
        try:
            require(program)
        except StackError as err:
            if os.environ.get("CI"):
                raise RuntimeError(f"CI needs {program}: apt-get install {program}") from err
            pytest.skip(str(err))
