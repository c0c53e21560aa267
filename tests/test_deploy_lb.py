"""The load balancer of `make classroom`, over plain HTTP (no browser): real HAProxy, Redis and
two app servers on free loopback ports. Metrics hidden, uploads bounded in size and rate, the
replica named in every response, affinity by cookie, and a dead replica out of the pool."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.servers import require_stack

pytestmark = pytest.mark.timeout(300)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def lb(tmp_path_factory):
    from deploy.stack import stack

    require_stack()
    with stack(replicas=2, log_dir=tmp_path_factory.mktemp("stack")) as s:
        yield s


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, lower(r.headers.items())
    except urllib.error.HTTPError as err:
        return err.code, lower(err.headers.items())


def lower(headers) -> dict[str, str]:
    """Header names in lower case (HAProxy sends them so; Python keeps what it got)."""
    out: dict[str, str] = {}
    for name, value in headers:
        out[name.lower()] = f"{out[name.lower()]}, {value}" if name.lower() in out else value
    return out


def put(
    base: str, path: str, length: int | None, body: bytes | None = None, method: str = "PUT"
) -> tuple[int, dict]:
    """A PUT that announces `length` bytes (None: chunked, no length); sends `body` (or
    nothing: the answer comes first)."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path)
        if length is None:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(length))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status, lower(response.getheaders())
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    ["/_stcore/metrics", "/_stcore/metrics?x=1", "/_stcore/%6Detrics", "/_STCORE/Metrics"],
)
def test_metrics_are_not_served_through_the_load_balancer(lb, path):
    assert get(f"{lb.url}{path}")[0] == 403
    assert get(f"{lb.replicas[0].url}/_stcore/metrics")[0] == 200  # the replica itself has them


def test_every_response_names_its_replica_and_a_cookie_keeps_the_client_there(lb):
    seen = set()
    for _ in range(6):
        status, headers = get(f"{lb.url}/")
        assert status == 200
        assert f"SRV={headers['x-replica']};" in headers["set-cookie"]
        seen.add(headers["x-replica"])
    assert seen == {"r1", "r2"}  # fresh clients are spread
    for name in ("r1", "r2"):
        for path in ("/", "/_stcore/health", "/lessons"):
            status, headers = get(f"{lb.url}{path}", cookie=f"SRV={name}")
            assert (status, headers["x-replica"]) == (200, name)
            assert "SRV=" not in headers.get("set-cookie", "")  # already where it belongs


def test_an_upload_over_33_mib_is_refused_before_it_is_sent(lb):
    path = "/_stcore/upload_file/some-session/some-file"
    status, headers = put(lb.url, path, 33 * MIB + 1)
    assert status == 413
    status, headers = put(lb.url, path, 1000, b"\0" * 1000)
    assert status not in (411, 413, 429)  # the app server answers (no such session)
    assert headers["x-replica"] in ("r1", "r2")
    assert put(lb.url, path, None)[0] == 411  # a chunked upload would not say its size
    assert put(lb.url, path, 0, method="DELETE")[0] not in (411, 413, 429)  # removing a file


def test_a_burst_of_uploads_from_one_client_is_rate_limited(lb):
    time.sleep(10.5)  # the earlier tests' uploads leave the 10 s window
    path = "/_stcore/upload_file/some-session/burst"
    statuses = [put(lb.url, path, 10, b"0123456789")[0] for _ in range(30)]
    allowed = [s for s in statuses if s != 429]
    assert 429 in statuses
    assert len(allowed) == 20, statuses
    assert statuses.index(429) == 20  # the first 20 pass, every one after is refused
    assert get(f"{lb.url}/")[0] == 200  # pages are not limited, only uploads


def test_a_dead_replica_leaves_the_pool_and_no_request_fails(lb):
    """Last: it kills r1. Clients pinned to it are sent to r2 at once (redispatch), new ones
    never reach it; HAProxy marks it DOWN after two failed checks a second apart."""
    assert all(state.startswith("UP") for state in lb.states().values())
    killed = time.monotonic()
    lb.kill("r1")
    failures, served, down_after = 0, [], None
    while time.monotonic() - killed < 6:
        for cookie in ("SRV=r1", None):
            status, headers = get(f"{lb.url}/_stcore/health", cookie=cookie)
            failures += status != 200
            served.append(headers.get("x-replica"))
            if cookie and status == 200:
                assert "SRV=r2;" in headers["set-cookie"]  # re-pinned to the live one
        if down_after is None and lb.states()["r1"].startswith("DOWN"):
            down_after = time.monotonic() - killed
        time.sleep(0.05)
    print(
        f"r1 marked DOWN {down_after:.2f} s after SIGKILL; {len(served)} requests, "
        f"{failures} failed"
    )
    assert failures == 0
    assert set(served) == {"r2"}
    assert down_after is not None and down_after < 4


def test_the_command_starts_everything_and_sigterm_stops_everything(tmp_path):
    """`make classroom`'s command: one line with the addresses, SIGTERM stops every process;
    a second stack on the same port is refused in one line."""
    import re
    import signal
    import subprocess
    import sys

    from tests.browser import ROOT, free_port

    require_stack()
    port = free_port()
    cmd = [sys.executable, "-m", "deploy.stack", "--replicas", "1", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--log-dir", str(tmp_path / "a")], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"Class room stack: http://127.0.0.1:{port}"), first
        assert get(f"http://127.0.0.1:{port}/_stcore/health")[0] == 200
        again = subprocess.run(
            [*cmd, "--log-dir", str(tmp_path / "b")], cwd=ROOT, capture_output=True, text=True
        )
        assert again.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in again.stderr
        assert "Traceback" not in again.stderr
        urls = re.findall(r"http://127\.0\.0\.1:\d+", first)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    for url in urls:  # the load balancer and the replica
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
