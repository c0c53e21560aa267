"""Shared test setup: nothing in the suite may reach the network."""

from __future__ import annotations

import os

# The pretrained files ship in a local package (encoder.pretrained.minilm_dir()); set before
# transformers / huggingface_hub are imported so that nothing tries to download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
