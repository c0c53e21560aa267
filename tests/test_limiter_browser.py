"""The server-wide limit on heavy work, in real Chromium (issue 17, points 8, 9 and 31).

One server whose memory budget admits one computation at a time (ENCODER_EXPLORER_WORK_MB=1):
a session runs the Padding page's drift curve through the largest model (a minute of work) and
shows its progress at the top; a second session's Encode page waits and says so; when the first
tab closes, its computation stops (the server's CPU goes idle) and the second one runs.
Screenshots at 1024 and 1920 px of the progress and of the waiting message.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from bench.load import cpu_seconds, server_pid, tree_of
from encoder.tokenizer import default_tokenizer
from tests.browser import ARTIFACTS, launch, require_chromium, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

sync_api = require_chromium()

BIGGEST = {
    "model": "From scratch",
    "d_model": "768",
    "n_heads": "12",
    "n_layers": "12",
    "d_ff": "4096",
    "max_len": "512",
}
# 338 tokens: the curve then runs 20 passes of 338 to 512 tokens through 12 layers of d_model 768
LONG = " ".join(["the old river ran past a quiet town where many people walked"] * 28)
MAIN = '[data-testid="stMain"]'
PROGRESS = f'{MAIN} [data-testid="stProgress"]'
WAITING = f'{MAIN} [data-testid="stAlert"]'
SLOW = 300_000  # ms: the machine is shared


def cpu_rate(pid: int, seconds: float) -> float:
    """Cores the server's process tree used over the next ``seconds``."""
    before = cpu_seconds(tree_of(pid))
    time.sleep(seconds)
    return (cpu_seconds(tree_of(pid)) - before) / seconds


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1024, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(400)
        page.screenshot(path=str(ARTIFACTS / f"{name}_{width}.png"))


def test_progress_waiting_and_a_closed_tab(monkeypatch):
    monkeypatch.setenv("ENCODER_EXPLORER_WORK_MB", "1")  # every computation runs alone
    monkeypatch.setenv("ENCODER_EXPLORER_SMALL_MB", "0")
    with streamlit_server() as url, sync_api.sync_playwright() as p:
        browser = launch(p)
        pid = server_pid(url)
        giant = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
        query = urlencode({**BIGGEST, "text": LONG, "curve": "true"})
        giant.goto(f"{url}/padding?{query}")
        # the curve's progress, at the top of the page: above section 1, with an estimate
        room = 512 - len(default_tokenizer().encode(LONG, max_len=512))
        curve = giant.locator(PROGRESS, has_text=f"Padding sentence with up to {room} [PAD]")
        curve.wait_for(timeout=SLOW)
        text = curve.inner_text()
        assert "%" in text and ("s left" in text or "second left" in text), text
        section = giant.get_by_text("1 · The padded batch and its mask")
        assert curve.bounding_box()["y"] < section.bounding_box()["y"]
        shoot(giant, "padding_progress")
        busy = cpu_rate(pid, 2)

        # a new student opens the default page: its forward pass waits, and says so
        fresh = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
        fresh.goto(url)
        notice = fresh.locator(WAITING, has_text="Waiting for 1 other computation on this server")
        notice.wait_for(timeout=SLOW)
        shoot(fresh, "waiting")

        # the first tab closes mid-curve: its work stops, the waiting page runs
        giant.context.close()
        wait_idle(fresh, SLOW)
        fresh.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(timeout=SLOW)
        assert fresh.locator(WAITING, has_text="Waiting for").count() == 0
        assert fresh.locator('[data-testid="stException"]').count() == 0
        time.sleep(1)
        idle = cpu_rate(pid, 3)
        assert idle < 0.25 * busy, f"server still busy: {idle:.2f} cores, {busy:.2f} before"
        browser.close()
