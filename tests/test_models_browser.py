"""Issue 22 in real Chromium: a person picks a model of the server's models folder in the
sidebar, then sets MiniLM beside it on the Attention page (Two models) and on Layer by layer;
the link carries both; screenshots at 1024 and 1920 px."""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.bert_folders import save_bert
from tests.browser import (
    ARTIFACTS,
    full_screenshot,
    nav,
    open_page,
    require_chromium,
    streamlit_server,
    wait_idle,
)

pytestmark = pytest.mark.browser
require_chromium()
pytest.importorskip("transformers")

NAME = "my-bert"
TEXT = "The river bank was muddy.\nShe paid the bank."
SIDEBAR = '[data-testid="stSidebar"]'
MAIN = '[data-testid="stMain"]'
EXCEPTION = '[data-testid="stException"]'
BESIDE = re.compile(r"all-MiniLM-L6-v2: depth \d of 6, as far through its layers as depth \d of 3")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with a models folder of one small BERT and one refused pickle-only folder."""
    root = tmp_path_factory.mktemp("models")
    save_bert(root / NAME, dict(num_hidden_layers=3, num_attention_heads=4, hidden_size=32))
    (root / "old-pickle").mkdir()
    (root / "old-pickle" / "pytorch_model.bin").write_bytes(b"\x80\x04not loaded")
    env = {**os.environ, "ENCODER_EXPLORER_MODELS": str(root)}
    with streamlit_server(env=env) as url:
        yield url


def choose(page, where: str, label: str, option: str) -> None:
    """Open the selectbox labelled ``label`` in ``where`` and click ``option``."""
    box = page.locator(f'{where} [data-testid="stSelectbox"]', has_text=label)
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # a scroll after the click would close the menu
    box.click()
    page.locator('[role="option"]', has_text=option).first.click()


@pytest.mark.parametrize("width", [1024, 1920])
def test_pick_a_folder_model_and_compare_it_with_minilm_on_both_pages(server, browser, width):
    context, page = open_page(browser, f"{server}/?text={quote(TEXT)}", width=width)
    sidebar = page.locator(SIDEBAR)
    expect(sidebar.get_by_text("1 model folder not shown")).to_be_visible()
    choose(page, SIDEBAR, "Pretrained model", NAME)
    caption = page.locator(MAIN).get_by_text(f"Pretrained: {NAME} · d_model 32 · 4 heads")
    expect(caption).to_be_visible(timeout=60_000)
    expect(sidebar.get_by_text("3 layers · 4 heads · d_model 32")).to_be_visible()
    sidebar.get_by_text("1 model folder not shown").click()
    expect(sidebar.get_by_text("holds only pytorch_model.bin, a pickle")).to_be_visible()
    # the snippet is drawn after the caption: wait for it, not only for the caption
    snippet = page.locator(f'{MAIN} [data-testid="stCode"]').first
    expect(snippet).to_contain_text("load_bert(model_path('my-bert'))")

    nav(page, "Attention")
    page.get_by_role("radio", name="Two models").click()
    expect(page.get_by_text("Pick a second model above")).to_be_visible(timeout=60_000)
    choose(page, MAIN, "Second model", "all-MiniLM-L6-v2")
    expect(page.locator(".axc[data-drawn] canvas").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Last depth against last depth: CKA")).to_be_visible()
    expect(
        page.locator(f"{MAIN} .axc-title").get_by_text("Linear CKA over 15 tokens")
    ).to_be_visible()
    wait_idle(page)
    assert page.locator(EXCEPTION).count() == 0
    assert "pretrained=my-bert" in page.url and "model2=all-MiniLM-L6-v2" in page.url
    ARTIFACTS.mkdir(exist_ok=True)
    full_screenshot(page, ARTIFACTS / f"models_attention_{width}.png")

    nav(page, "Layer by layer")
    choose(page, MAIN, "Beside it, a second model", "all-MiniLM-L6-v2")
    expect(page.get_by_text(BESIDE)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Last depth against last depth: CKA")).to_be_visible()
    wait_idle(page)
    assert page.locator(EXCEPTION).count() == 0
    full_screenshot(page, ARTIFACTS / f"models_layers_{width}.png")

    # the link, opened fresh, shows the same two models
    link = page.url
    context.close()
    context, page = open_page(browser, link, width=width)
    expect(page.get_by_text(BESIDE)).to_be_visible(timeout=60_000)
    assert page.locator(MAIN).get_by_text(f"Pretrained: {NAME}").count() == 1
    context.close()
