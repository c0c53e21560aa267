"""EncoderConfig: every hyperparameter of the encoder, validated once, hashable."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

POSITIONAL_KINDS = ("sinusoidal", "learned")
ACTIVATIONS = ("relu", "gelu")


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
        for name in ("vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("pad_id", self.pad_id, minimum=0)
        check_int("type_vocab_size", self.type_vocab_size, minimum=0)
        if self.pad_id >= self.vocab_size:
            raise ValueError(
                f"pad_id ({self.pad_id}) must be a token id below vocab_size ({self.vocab_size})"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}); "
                + (
                    f"try n_heads in {divisors(self.d_model)}"
                    if self.d_model <= 1 << 20
                    else "pick a divisor of d_model"
                )
            )
        if not _is_number(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout ({self.dropout!r}) must be a number in [0, 1)")
        if not _is_number(self.layer_norm_eps) or not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps ({self.layer_norm_eps!r}) must be a positive number")
        if not _is_number(self.positional_base) or not self.positional_base > 1:
            raise ValueError(f"positional_base ({self.positional_base!r}) must be a number above 1")
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
        raise ValueError(f"{name} ({value!r}) must be a whole number")
    if value < minimum:
        bound = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} ({value}) must be {bound}")
    if value > maximum:
        raise ValueError(f"{name} ({value}) must be at most {maximum:,}")


def check_number(name: str, value: object, *, above: float) -> None:
    """Refuse a value that is not a real number (bools excluded) above ``above`` (NaN too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > above:
        raise ValueError(f"{name} ({value!r}) must be a number above {above:g}")
