"""Shared test setup: nothing in the suite may reach the network."""

from __future__ import annotations

import os

# The pretrained files ship in a local package (encoder.pretrained.minilm_dir()); set before
# transformers / huggingface_hub are imported so that nothing tries to download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Class rooms the tests open (AppTest and every app server they start) go to a file of their
# own, never the project's data/ folder; a test that needs another store sets its own.
if "ENCODER_EXPLORER_STORE" not in os.environ:
    import tempfile

    _rooms = tempfile.mkdtemp(prefix="encoder-explorer-rooms-")
    os.environ["ENCODER_EXPLORER_STORE"] = f"sqlite:///{_rooms}/classroom.db"

# The server's models folder: an empty one of the tests' own unless a test sets another, so
# models in the project's models/ folder never change what a test sees.
if "ENCODER_EXPLORER_MODELS" not in os.environ:
    import tempfile

    os.environ["ENCODER_EXPLORER_MODELS"] = tempfile.mkdtemp(prefix="encoder-explorer-models-")

# The app shows users a redacted error (client.showErrorDetails = "none" in config.toml); the
# tests want the real one in at.exception.
from streamlit import config as _st_config

_st_config.set_option("client.showErrorDetails", "full")


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def server():
    """The app on a loopback port, one per browser test module."""
    from tests.browser import streamlit_server

    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through playwright, one per browser test module."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
