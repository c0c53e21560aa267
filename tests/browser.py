"""Run the app on a loopback port and drive it in Debian's Chromium (shared by tests and bench).

Follows Streamlit's own e2e_playwright conftest: wait for /_stcore/health, then for the app's
script state to be idle, then act.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from deploy.stack import free_port, streamlit_cmd

__all__ = ["free_port"]  # the tests' free loopback port is the stack's

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots the browser tests leave for a person to look at
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
CONNECTED = "[data-testid='stApp'][data-test-connection-state='CONNECTED']"


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium():
    """Call at the top of a browser test module: skips it where Chromium is missing (CI must
    have it) and returns playwright.sync_api."""
    import pytest

    if chromium_path() is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI needs chromium for the browser tests: apt-get install chromium")
        pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def streamlit_server(
    script: Path = ROOT / "app" / "main.py",
    timeout: float = 90,
    log_path: Path | None = None,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Start `streamlit run script` on a free loopback port, or ``port`` (the project's
    .streamlit/config.toml applies); yield its base URL. The server's output goes to log_path
    if given; ``env`` is added to the server's environment."""
    port = port or free_port()
    cmd = streamlit_cmd(port, script)
    url = f"http://127.0.0.1:{port}"
    opened = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        try:
            try:
                wait_healthy(url, proc, timeout)
            except RuntimeError as err:
                log.seek(0)
                raise RuntimeError(f"{err}\n{log.read().decode(errors='replace')[-3000:]}") from err
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            log.seek(0)
            text = log.read().decode(errors="replace")
            if "Traceback" in text:  # users see a redacted message; the test log gets this
                print(f"streamlit server log:\n{text[-6000:]}")


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode} before serving")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"streamlit did not answer {url}/_stcore/health within {timeout} s")


def launch(playwright):
    """Debian's Chromium through Playwright (no browser download)."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed: apt-get install chromium")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


def open_page(
    browser, url: str, width: int = 1280, height: int = 1100, timeout: float = 60_000, **options
):
    """A fresh context (its own session) at width x height, on url, once the app is idle.

    Returns (context, page); options go to browser.new_context."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.goto(url)
    wait_idle(page, timeout)
    return context, page


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the app is connected and its script has finished running."""
    page.wait_for_selector(CONNECTED, timeout=timeout)
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout
    )


def nav(page, title: str, timeout: float = 60_000) -> None:
    """Open the page ``title`` from the sidebar and wait for its run: its address first, so
    that the page still on screen, idle, does not pass for it."""
    from app.state import PAGE_TABLE

    path = next(p for p, (_, t, _) in PAGE_TABLE.items() if t == title)
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).click()
    page.wait_for_function(  # Encode, the default page, is served at the app's root
        "(path) => location.pathname.endsWith(path === 'home' ? '/' : '/' + path)",
        arg=path,
        timeout=timeout,
    )
    wait_idle(page, timeout)


def wait_painted(page, plotly: int, graphviz: int = 0, timeout: float = 60_000) -> None:
    """Wait until `plotly` plotly charts and `graphviz` graphviz charts have drawn their SVG."""
    page.wait_for_function(
        """([p, g]) => {
            const drawn = [...document.querySelectorAll('.js-plotly-plot')]
                .filter((el) => el.querySelector('.main-svg .cartesianlayer')).length;
            const graphs = document.querySelectorAll('[data-testid="stGraphVizChart"] svg').length;
            return drawn >= p && graphs >= g;
        }""",
        arg=[plotly, graphviz],
        timeout=timeout,
    )


def full_screenshot(page, path: str | Path) -> None:
    """Screenshot the whole page: Streamlit scrolls inside its main area, not the window, so
    grow the viewport to the content's height first (then put it back)."""
    size = page.viewport_size
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            const side = document.querySelector('[data-testid="stSidebarContent"]');
            return Math.max(main ? main.scrollHeight : 0, side ? side.scrollHeight : 0);
        }"""
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 20)})
    page.wait_for_timeout(300)  # let charts re-layout to the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
