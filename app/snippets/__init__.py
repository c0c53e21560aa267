"""The Python code that reproduces a page's computation with the ``encoder`` package.

One builder per page, each in its own module here; they share how a script gets the page's
model and tokenizer (``model_lines``). Tests run every snippet with exec and compare its numbers
with the page's.
"""

from __future__ import annotations

from app.state import ASSETS, PRETRAINED, TRAINED, ModelChoice
from encoder import EncoderConfig

# the fields the sidebar sets: always written, even when they equal the library's defaults
SIDEBAR_FIELDS = (
    "d_model",
    "n_heads",
    "n_layers",
    "d_ff",
    "dropout",
    "max_len",
    "positional",
    "activation",
    "norm_first",
)
EVAL = "eval()  # eval mode: no dropout"
TRAIN = "train()  # train mode: dropout on"


def config_source(cfg: EncoderConfig) -> str:
    """EncoderConfig(...) naming every field the sidebar sets and any other that differs."""
    default = EncoderConfig()
    fields = {
        k: v for k, v in cfg.to_dict().items() if k in SIDEBAR_FIELDS or getattr(default, k) != v
    }
    args = "".join(f"\n    {k}={v!r}," for k, v in fields.items())
    return f"EncoderConfig({args}\n)"


def model_lines(choice: ModelChoice, *, eval_only: bool = False) -> list[str]:
    """Imports and lines that define ``model`` and ``tokenizer`` as the page has them.

    ``eval_only`` for pages whose experiments always run in eval mode; otherwise the model is
    put in the sidebar's mode (the caller seeds dropout).
    """
    train = choice.train and not eval_only
    threads = "torch.set_num_threads(1)  # as the app: the same float rounding as the page"
    return [*_load_lines(choice, train), threads]


def _load_lines(choice: ModelChoice, train: bool) -> list[str]:
    if choice.kind == PRETRAINED and choice.folder:
        lines = [
            "from encoder.models_folder import model_path",
            "from encoder.pretrained import load_bert",
            "",
            f"# {choice.folder!r} is in the server's models folder ($ENCODER_EXPLORER_MODELS)",
            f"model, tokenizer = load_bert(model_path({choice.folder!r}))  # eval mode",
        ]
        return lines + (["model.train()  # train mode: dropout on"] if train else [])
    if choice.kind == PRETRAINED:
        lines = [
            "from encoder.pretrained import load_minilm",
            "",
            "model, tokenizer = load_minilm()  # all-MiniLM-L6-v2, shipped offline, eval mode",
        ]
        return lines + (["model.train()  # train mode: dropout on"] if train else [])
    if choice.kind == TRAINED:
        shipped = ASSETS / "checkpoints" / f"{choice.trained}.safetensors"
        path, where = (
            f"{(choice.trained or 'model').split(' · ')[0]}.safetensors",
            "the Train page's download",
        )
        if shipped.is_file():
            path, where = f"assets/checkpoints/{shipped.name}", "shipped with the app"
        return [
            "from encoder import checkpoint",
            "",
            f"ckpt = checkpoint.load({path!r})  # {choice.trained}: {where}",
            f"model = ckpt.model.encoder.{TRAIN if train else EVAL}",
            "tokenizer = ckpt.tokenizer()  # the task's own tokens, not WordPiece",
        ]
    return [
        "from encoder import Encoder, EncoderConfig",
        "from encoder.tokenizer import default_tokenizer",
        "",
        f"config = {config_source(choice.config)}",
        f"model = Encoder(config, seed={choice.seed}).{TRAIN if train else EVAL}",
        "tokenizer = default_tokenizer()  # bert-base-uncased WordPiece",
    ]


def python_snippet(choice: ModelChoice, sentences: list[str], attentions: bool = False) -> str:
    """A runnable script: same model, same sentences, same outputs as the page.

    ``attentions`` must match the page's forward pass: in train mode the manual attention and
    the fused fast path draw different dropout masks.
    """
    lines = ["import torch", "", *model_lines(choice)]
    if choice.train:
        lines.append(f"torch.manual_seed({choice.seed})  # the page's dropout masks")
    lines += [
        "sentences = [" + "".join(f"\n    {t!r}," for t in sentences) + "\n]",
        f"batch = tokenizer.encode_batch(sentences, max_len={choice.max_len})",
        "with torch.inference_mode():",
        "    out = model(",
        "        batch.input_ids,",
        "        batch.attention_mask,  # 1 = real token, 0 = padding",
        f"        output_attentions={attentions},  # per-head weights, one tensor per layer",
        "        output_hidden_states=True,  # embeddings, then every layer's output",
        "    )",
        "print(out.last_hidden_state.shape)  # (batch, seq, d_model)",
    ]
    if attentions:
        lines.append(
            "print(len(out.attentions), out.attentions[0].shape)  # (batch, heads, seq, seq)"
        )
    return "\n".join(lines) + "\n"
