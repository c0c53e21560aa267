"""bench/classroom.py's load tool drives the real app: Streamlit's websocket protocol by hand
(bench/streamlit_ws.py) and the Locust students (bench/locustfile.py), for a few seconds
against one replica behind HAProxy (deploy.stack), or one app server where HAProxy or Redis
is missing (the protocol is the same)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from urllib.parse import parse_qs

import pytest

from bench.streamlit_ws import PAGE_MIX, StreamlitSession
from tests.browser import ROOT, streamlit_server

pytestmark = pytest.mark.timeout(300)
USERS = len(PAGE_MIX)  # one student per page of the mix


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(base URL, replica name a student should see, or "" without a load balancer)."""
    folder = tmp_path_factory.mktemp("stack")
    if shutil.which("haproxy") and shutil.which("redis-server"):
        from deploy.stack import stack

        with stack(replicas=1, log_dir=folder) as s:
            yield s.url, "r1"
    else:
        env = {"ENCODER_EXPLORER_STORE": f"sqlite:///{folder / 'rooms.db'}"}
        with streamlit_server(env=env, log_path=folder / "app.log") as url:
            yield url, ""


def test_a_submit_reaches_the_app_and_finishes(app):
    url, replica = app
    session = StreamlitSession(url, "attention", timeout=120)
    try:
        first = session.open()
        assert first.messages > 0 and not first.exceptions
        assert session.replica == replica
        assert {"", "attention", "positions", "padding", "lessons"} <= set(session.pages)
        assert session.text_id.endswith("-text")  # the sidebar's sentences box
        for sentence in ("The walnut harbor glows.", "A copper kettle sings at night."):
            run = session.submit(sentence)
            assert run.seconds > 0 and not run.exceptions
            # the app put the box's new text in the page's link: the widget state got there
            assert parse_qs(session.query)["text"] == [sentence]
    finally:
        session.close()
    assert not session.connected


def test_locust_students_submit_on_every_page_of_the_mix(app, tmp_path):
    url, replica = app
    env = {**os.environ, "CLASSROOM_LOG": str(tmp_path), "CLASSROOM_TIMEOUT": "120"}
    cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py")]
    cmd += ["--headless", "--only-summary", "-u", str(USERS), "-r", str(USERS), "-t", "30s"]
    cmd += ["--host", url, "--csv", str(tmp_path / "locust"), "--loglevel", "WARNING"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    events = [
        json.loads(line)
        for path in tmp_path.glob("events-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [e for e in events if e["error"]] == []
    opened = Counter(e["page"] for e in events if e["kind"] == "OPEN")
    submitted = Counter(e["page"] for e in events if e["kind"] == "WS")
    assert set(opened) == set(submitted) == {name for name, _ in PAGE_MIX}
    assert len({e["student"] for e in events if e["kind"] == "WS"}) == USERS
    assert {e["replica"] for e in events} == {replica}
    # Locust's own statistics saw the same submits
    stats = (tmp_path / "locust_stats.csv").read_text().splitlines()
    ws_rows = [line for line in stats if line.startswith("WS,")]
    assert sum(int(line.split(",")[2]) for line in ws_rows) == sum(submitted.values())
