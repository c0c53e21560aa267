"""The server's settings (issue 14): XSRF protection on, an upload limit that fits a checkpoint,
and users told in plain words when something fails, the real error in the server's log."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from app import compute
from encoder import checkpoint
from tests.browser import ROOT, chromium_path, launch, streamlit_server, wait_idle
from tests.test_app import MAIN

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_xsrf_protection_is_on():
    assert CONFIG["server"]["enableXsrfProtection"] is True


def test_upload_limit_fits_a_checkpoint_and_no_more():
    """Streamlit counts maxUploadSize in MiB; the smallest whole number that holds a checkpoint
    (issue 17: 50 let a client PUT file after 45 MB file; tests/test_upload_limit_browser.py
    sends them to a real server)."""
    limit = CONFIG["server"]["maxUploadSize"] * 1024 * 1024
    assert checkpoint.MAX_BYTES <= limit < checkpoint.MAX_BYTES + 2 * 1024 * 1024


def test_users_never_see_a_traceback():
    assert CONFIG["client"]["showErrorDetails"] == "none"


@pytest.fixture
def redacted():
    """The app's own setting (the test suite turns details on in conftest.py)."""
    before = st_config.get_option("client.showErrorDetails")
    st_config.set_option("client.showErrorDetails", "none")
    yield
    st_config.set_option("client.showErrorDetails", before)


def test_a_failing_page_says_what_to_do_and_logs_the_error(redacted, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail 4711")

    monkeypatch.setattr(compute, "forward", boom)
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["text"] = "A sentence the user typed"
    with caplog.at_level(logging.ERROR, logger="encoder_explorer"):
        at.run()
    assert not at.exception
    [error] = at.error
    assert "Something went wrong while drawing the Encode page" in error.value
    assert "settings are kept" in error.value
    assert "4711" not in " ".join(e.value for e in at.error)
    assert at.sidebar.text_area(key="text").value == "A sentence the user typed"  # nothing lost
    logged = [r for r in caplog.records if r.name == "encoder_explorer"]
    assert logged and "secret internal detail 4711" in str(logged[0].exc_info[1])


def test_with_details_on_the_real_exception_reaches_the_tests(monkeypatch):
    """conftest.py turns details on: a failure must not hide behind the friendly message."""
    monkeypatch.setattr(compute, "forward", lambda *a, **k: 1 / 0)
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    assert at.exception and at.exception[0].proto.type == "ZeroDivisionError"


@pytest.mark.browser
@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"), reason="chromium is not installed"
)
def test_the_browser_gets_no_traceback_and_the_log_gets_it(tmp_path: Path):
    """A script that fails, served with the project's config.toml: the page shows Streamlit's
    redacted notice, the server's log has the whole traceback."""
    sync_api = pytest.importorskip("playwright.sync_api")
    script = tmp_path / "fails.py"
    script.write_text('raise RuntimeError("secret internal detail 4711")\n')
    log = tmp_path / "server.log"
    with streamlit_server(script, log_path=log) as url, sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.goto(url)
            wait_idle(page)
            page.wait_for_selector("[data-testid='stException']", timeout=30_000)
            shown = page.locator("[data-testid='stException']").inner_text()
        finally:
            browser.close()
        text = log.read_text()
    assert "redacted" in shown and "4711" not in shown and "Traceback" not in shown
    assert "secret internal detail 4711" in text and "fails.py" in text
