"""Small random BERT models saved as models-folder entries, for the library's and the app's
tests (transformers writes them, as save_pretrained does for a real checkpoint)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import torch

from encoder.models_folder import ENV_FOLDER as ENV
from encoder.pretrained import minilm_dir

# name -> (BertConfig settings, pooler): GELU and ReLU, with and without a pooler, 1 to 4
# layers, 1 to 6 heads; vocab_size is MiniLM's, whose tokenizer.json each folder gets
CONFIGS = {
    "gelu-pooler": (dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32), True),
    "relu-no-pooler": (
        dict(num_hidden_layers=3, num_attention_heads=2, hidden_size=24, hidden_act="relu"),
        False,
    ),
    "one-head": (
        dict(num_hidden_layers=1, num_attention_heads=1, hidden_size=16, hidden_act="relu"),
        True,
    ),
    "six-heads": (dict(num_hidden_layers=4, num_attention_heads=6, hidden_size=48), False),
}


def save_bert(folder: Path, settings: dict, pooler: bool = True, seed: int = 0, cased=False):
    """A random BertModel saved as a folder (config.json, model.safetensors) + MiniLM's
    tokenizer.json (``cased``: without its lower-casing, so it splits text differently);
    returns the model, in eval mode."""
    import transformers

    settings = {
        "intermediate_size": 2 * settings.get("hidden_size", 32),
        "max_position_embeddings": 128,
        **settings,
    }
    cfg = transformers.BertConfig(vocab_size=30522, initializer_range=0.2, **settings)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.BertModel(cfg, add_pooling_layer=pooler)
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copy(minilm_dir() / "tokenizer.json", folder / "tokenizer.json")
    if cased:
        tok = json.loads((folder / "tokenizer.json").read_text())
        tok["normalizer"]["lowercase"] = False
        (folder / "tokenizer.json").write_text(json.dumps(tok))
    return model.eval()


@contextlib.contextmanager
def app_models_folder(root: Path):
    """Inside the block the app reads its models folder from ``root`` (the setting, and the
    listing's cache cleared on the way in and out)."""
    from app import compute

    before = os.environ.get(ENV)
    os.environ[ENV] = str(root)
    compute.folder_models.clear()
    try:
        yield root
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
        compute.folder_models.clear()
