"""Real servers for tests: Redis on a free loopback port (Debian's redis-server, installed by
`make test` as Chromium is), started and stopped by a context manager."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.stack import StackError, free_port, redis_cmd, require


def require_program(program: str) -> str:
    """A Debian server program's path; skips where it is missing (CI must have it: `make test`
    installs redis-server and haproxy, as it installs Chromium)."""
    import pytest

    try:
        return require(program)
    except StackError as err:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI needs {program}: apt-get install {program}") from err
        pytest.skip(str(err))


def require_redis() -> str:
    return require_program("redis-server")


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A throwaway Redis (no persistence) on a free port; yields its redis:// URL."""
    import redis

    binary = require_redis()
    port = free_port()
    cmd = redis_cmd(binary, port, folder)
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
    """haproxy and redis-server for deploy.stack; skips where one is missing."""
    for program in ("redis-server", "haproxy"):
        require_program(program)
