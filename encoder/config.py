"""EncoderConfig: every hyperparameter of the encoder, validated once, hashable."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

POSITIONAL_KINDS = ("sinusoidal", "learned")
ACTIVATIONS = ("relu", "gelu")


# Upper bounds on the sizes: far above any model this app runs (the sidebar's largest is d_model
# 768 with 12 layers; BERT-large is d_model 1024, 24 layers, d_ff 4096; the largest real
# vocabularies hold about 260,000 tokens), and low enough that every weight's shape is a number
# torch can compute, so a config read from a file is refused here, in words, before any torch call.
LIMITS = {
    "vocab_size": 1_000_000,
    "d_model": 8192,
    "n_heads": 8192,  # d_model must also divide by it
    "n_layers": 128,
    "d_ff": 65_536,
    "max_len": 8192,
    "type_vocab_size": 1024,
}
EPS_RANGE = (1e-20, 1.0)  # layer_norm_eps: finite, and not lost in float32
MAX_BASE = 1e9  # positional_base: wavelengths up to 2π·1e9 positions (RoPE models use up to 5e5)


@dataclass(frozen=True)
class EncoderConfig:
    """Hyperparameters of a transformer encoder (Vaswani et al. 2017, section 3).

    Defaults reproduce the paper's base encoder: ReLU, sinusoidal positions, post-norm.
    Frozen, so it is hashable and can key a cache.
    """

    vocab_size: int = 30522  # token ids run from 0 to vocab_size - 1 (bert-base-uncased WordPiece)
    d_model: int = 512  # width of every token vector
    n_heads: int = 8  # attention heads per layer; each head sees d_model // n_heads dimensions
    n_layers: int = 6  # encoder layers stacked on top of each other
    d_ff: int = 2048  # hidden width of the feed-forward network inside each layer
    dropout: float = 0.1  # probability of zeroing an activation, in train mode only
    max_len: int = 512  # longest sequence (in tokens) the model accepts
    pad_id: int = 0  # id of the padding token
    positional: str = "sinusoidal"  # "sinusoidal" (fixed, the paper's) or "learned" (BERT's)
    activation: str = "relu"  # feed-forward non-linearity: "relu" or "gelu" (exact, erf-based)
    norm_first: bool = False  # False = post-norm (paper, BERT); True = pre-norm (GPT-2 style)
    layer_norm_eps: float = 1e-5  # epsilon inside every LayerNorm (BERT uses 1e-12)
    scale_embeddings: bool = True  # multiply token embeddings by sqrt(d_model) (paper, 3.4)
    embedding_norm: bool = False  # LayerNorm right after summing the embeddings (BERT)
    type_vocab_size: int = 0  # number of token types (segments); 0 = none, BERT uses 2
    positional_base: float = 10000.0  # the 10000 in the sinusoid's wavelengths

    def __post_init__(self) -> None:
        for name, most in LIMITS.items():  # before any shape is computed from them
            least = 0 if name == "type_vocab_size" else 1
            check_int(name, getattr(self, name), minimum=least, maximum=most)
        check_int("pad_id", self.pad_id, minimum=0)
        if self.pad_id >= self.vocab_size:
            raise ValueError(
                f"pad_id ({self.pad_id}) must be a token id below vocab_size ({self.vocab_size})"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}); "
                f"try n_heads in {divisors(self.d_model)}"
            )
        drop, eps, base = self.dropout, self.layer_norm_eps, self.positional_base
        if not _is_number(drop) or not 0.0 <= drop < 1.0:
            raise ValueError(f"dropout ({_shown(drop)}) must be a number in [0, 1)")
        if not _is_number(eps) or not EPS_RANGE[0] <= eps <= EPS_RANGE[1]:
            raise ValueError(
                f"layer_norm_eps ({_shown(eps)}) must be a number from {EPS_RANGE[0]:g} to "
                f"{EPS_RANGE[1]:g} (BERT uses 1e-12, PyTorch 1e-5)"
            )
        if not _is_number(base) or not 1 < base <= MAX_BASE:
            raise ValueError(
                f"positional_base ({_shown(base)}) must be a number above 1 and at most "
                f"{MAX_BASE:,.0f} (the paper uses 10000)"
            )
        if self.positional not in POSITIONAL_KINDS:
            raise ValueError(f"positional ({self.positional!r}) must be one of {POSITIONAL_KINDS}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation ({self.activation!r}) must be one of {ACTIVATIONS}")
        for name in ("norm_first", "scale_embeddings", "embedding_norm"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} ({getattr(self, name)!r}) must be True or False")

    @property
    def d_head(self) -> int:
        """Width of one attention head: d_model // n_heads (d_k in the paper)."""
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> EncoderConfig:
        """Build from a dict, refusing unknown keys by name."""
        if not isinstance(values, dict):
            raise ValueError(f"an EncoderConfig is built from a dict, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(map(str, set(values) - known))
        if unknown:
            raise ValueError(f"unknown EncoderConfig field(s): {', '.join(unknown)}")
        return cls(**values)


def divisors(n: int) -> list[int]:
    """All head counts that divide a width n, smallest first (found up to sqrt(n): a huge n
    answers at once)."""
    small = [k for k in range(1, math.isqrt(n) + 1) if n % k == 0]
    return small + [n // k for k in reversed(small) if k * k != n]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


INT64_MAX = 2**63 - 1  # torch's sizes and ids are int64


def check_int(name: str, value: object, *, minimum: int, maximum: int = INT64_MAX) -> None:
    """Refuse a value that is not a whole number (bools excluded) from ``minimum`` to
    ``maximum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} ({_shown(value)}) must be a whole number")
    if value < minimum:
        bound = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} ({_shown(value)}) must be {bound}")
    if value > maximum:
        raise ValueError(f"{name} ({_shown(value)}) must be at most {maximum:,}")


def _shown(value: object) -> str:
    """A value as repr shows it, or an int's length when Python would refuse to print it."""
    if not isinstance(value, int) or value.bit_length() <= 64:
        return repr(value)
    digits = int(value.bit_length() * math.log10(2)) + 1
    return f"a whole number of about {digits:,} digits"


def check_number(name: str, value: object, *, above: float) -> None:
    """Refuse a value that is not a real number (bools excluded) above ``above`` (NaN too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > above:
        raise ValueError(f"{name} ({value!r}) must be a number above {above:g}")
