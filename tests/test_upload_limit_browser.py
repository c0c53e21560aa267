"""The upload limit on a real server (issue 17, point 13), and what the refusals look like in
Chromium (points 9, 11, 22).

The widget's 32 MB limit is checked only in the browser: a client can PUT to
/_stcore/upload_file/<session>/<file> itself, with its own session's XSRF cookie, as the
issue did with eight 45 MB files. The server's own limit (server.maxUploadSize) must refuse
what no checkpoint needs. The request is the browser's own upload, replayed with a bigger body.
"""

from __future__ import annotations

import pytest

from encoder.checkpoint import MAX_BYTES
from tests.browser import ARTIFACTS, open_page, require_chromium, wait_idle

pytestmark = pytest.mark.browser
MIB = 1024 * 1024
DROP = "[data-testid='stFileUploaderDropzoneInput']"

require_chromium()


def upload_text_file(page) -> tuple[str, dict[str, str]]:
    """Upload a text file named .safetensors through the Train page's widget; the PUT's URL
    and headers (the session's XSRF token) as the browser sent them."""
    with page.expect_request(
        lambda r: "/_stcore/upload_file/" in r.url and r.method == "PUT"
    ) as sent:
        page.locator(DROP).set_input_files(
            {"name": "notes.safetensors", "mimeType": "text/plain", "buffer": b"my notes\n" * 50}
        )
    # the rerun the upload starts may not have begun when the status says idle: wait for its
    # refusal (a fresh clone's run read the page before it came)
    page.locator("[data-testid='stMain'] [data-testid='stAlertContentError']").first.wait_for(
        timeout=60_000
    )
    wait_idle(page)
    return sent.value.url, sent.value.headers


def put(page, url: str, headers: dict[str, str], size: int) -> int:
    """PUT a file of ``size`` bytes to url with the session's cookies and XSRF header."""
    token = {k: v for k, v in headers.items() if k.lower() == "x-xsrftoken"}
    file = {"name": "big.safetensors", "mimeType": "application/octet-stream"}
    response = page.request.put(
        url, headers=token, multipart={"file": {**file, "buffer": b"\0" * size}}, timeout=120_000
    )
    return response.status


def test_the_server_refuses_a_file_no_checkpoint_needs(server, browser):
    context, page = open_page(browser, f"{server}/train", width=1024)
    url, headers = upload_text_file(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "the uploaded file is a text file, not a safetensors checkpoint" in main
    base = url.rsplit("/", 1)[0]
    assert put(page, f"{base}/checkpoint-sized", headers, MAX_BYTES) == 204  # the app's limit fits
    assert put(page, f"{base}/over-the-limit", headers, 32 * MIB + 1) == 413
    assert put(page, f"{base}/as-in-the-issue", headers, 45_000_000) == 413
    context.close()


@pytest.mark.parametrize("width", [1024, 1920])
def test_screenshots_of_the_refusals(server, browser, width):
    """For a person to look at: the upload refusal naming a text file, "Try it" refusing one
    token, the sentence box full at 50,000 characters."""
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = open_page(browser, f"{server}/train?trained=reverse", width=width)
    upload_text_file(page)
    page.locator("[data-testid='stAlertContentError']").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"upload_text_refused_{width}.png"))
    context.close()

    context, page = open_page(browser, f"{server}/train", width=width)
    with page.expect_request(lambda r: "/_stcore/upload_file/" in r.url and r.method == "PUT"):
        page.locator(DROP).set_input_files(
            str(ARTIFACTS.parent / "assets" / "checkpoints" / "reverse.safetensors")
        )
    wait_idle(page)
    box = page.get_by_role("textbox", name="Your own input")
    box.fill("5")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("has 1 token; the reverse model reads 2 to 10").wait_for(timeout=60_000)
    page.get_by_text("has 1 token").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"try_it_one_token_{width}.png"))
    context.close()

    context, page = open_page(browser, server, width=width)
    area = page.locator("[data-testid='stSidebar'] textarea").first
    before = area.input_value()
    area.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("A long pasted line of words. " * 2000)  # 58,000 characters
    assert area.input_value() == before  # the box refuses a paste longer than it holds
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(("A long pasted line of words. " * 2000)[:50_000])
    area.press("Control+Enter")
    wait_idle(page, 120_000)
    page.get_by_text("characters at most, and it is full").wait_for(timeout=120_000)
    assert "50000/50000" in page.locator("[data-testid='stSidebar']").inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(ARTIFACTS / f"text_box_full_{width}.png"))
    context.close()
