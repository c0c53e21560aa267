"""Checks every loader of an untrusted weights file shares (task checkpoints, BERT folders).

``what_it_is`` names a file that cannot be safetensors from its first bytes ("a pickle (a
PyTorch torch.save zip archive…)", "a text file") before any size field in it is believed;
``loads`` reads JSON whose numbers fit an int64; ``check_weights`` refuses weights a float32
model cannot carry, and ``check_outputs`` a model whose forward pass gives NaN or infinity.
"""

from __future__ import annotations

import json
import pickletools
import struct
from collections.abc import Iterable

import torch
from torch import Tensor

HEAD = 65_536  # bytes of a file's start that are enough to tell what it is
MAX_WEIGHT = 1e4  # no trained weight comes near: MiniLM's largest is 7.9, the toy tasks' 1.3
MAX_DIGITS = 19  # an int64 has at most 19 digits
PICKLE_ADVICE = (
    "Pickles can run code when loaded, so they are never opened here: save the weights with "
    "safetensors instead"
)
_MAGIC = {  # other formats weights come in, by their first bytes
    b"\x1f\x8b": "a gzip archive",
    b"\x93NUMPY": "a NumPy array file (.npy)",
    b"\x89HDF\r\n\x1a\n": "an HDF5 file (Keras .h5 weights, say)",
    b"GGUF": "a GGUF model file (llama.cpp)",
}


def what_it_is(head: bytes, size: int) -> str | None:
    """What a file is, said after its name ("is a text file, not a safetensors checkpoint…"),
    when its first bytes rule out safetensors; None when it begins like one.

    ``head`` is the file's first bytes (``HEAD`` of them are plenty), ``size`` its length. A
    safetensors file begins with its header's length (8 bytes, little-endian) and then "{".
    """
    head = bytes(head[:HEAD])
    if size == 0:
        return "is empty (0 bytes), not a safetensors checkpoint"
    shaped = len(head) >= 9 and head[8:9] == b"{"
    if shaped and head[4:8] == b"\0\0\0\0":
        return None  # a header under 4 GB, then JSON: the header checks say the rest
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _zip(head)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return (
            f"is a pickle (Python pickle protocol {head[1]}: torch.save before PyTorch 1.6, or "
            f"pickle.dump), not a safetensors checkpoint. {PICKLE_ADVICE}"
        )
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return f"is {kind}, not a safetensors checkpoint"
    if _old_pickle(head, size):
        return (
            "is a pickle (Python pickle protocol 0 or 1: an old torch.save or pickle.dump), not "
            f"a safetensors checkpoint. {PICKLE_ADVICE}"
        )
    text = _text(head, size)
    if text is not None:
        return _kind_of_text(text)
    if shaped:
        return None  # begins like safetensors but for a huge header: its size check says so
    if size < 9:
        return f"is too short to be a safetensors checkpoint ({size} bytes)"
    return (
        "is not a safetensors checkpoint: it does not begin like one (8 bytes giving the "
        "header's length, then “{”), and it is not a pickle, a zip archive or text either"
    )


def _zip(head: bytes) -> str:
    (name_len,) = struct.unpack("<H", head[26:28]) if len(head) >= 28 else (0,)
    first = head[30 : 30 + name_len]
    if first.endswith(b"data.pkl") or b"/data.pkl" in head:
        return (
            "is a pickle (a PyTorch torch.save zip archive: a .pt, .pth or .bin file), not a "
            f"safetensors checkpoint. {PICKLE_ADVICE}"
        )
    return (
        "is a zip archive, not a safetensors checkpoint: unpack it and give the .safetensors "
        "file itself"
    )


def _old_pickle(head: bytes, size: int) -> bool:
    """Protocol 0 and 1 pickles have no magic: read their opcodes (pickletools only parses,
    it never imports or calls anything) and call it a pickle if they run cleanly to STOP."""
    ops = 0
    try:
        for opcode, _, _ in pickletools.genops(head):
            ops += 1
            if opcode.name == "STOP":
                return ops > 1
            if ops >= 256:
                return True
    except Exception:  # any malformed opcode or argument: not a pickle
        return ops >= 64 and len(head) < size  # a long clean run cut only by our HEAD
    return False


def _text(head: bytes, size: int) -> str | None:
    """The head as text if it is UTF-8 without NUL or other control bytes (a character cut
    by the HEAD limit is allowed), else None."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if len(head) < size and err.start >= len(head) - 3:
            text = head[: err.start].decode("utf-8", "replace")
        else:
            return None
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\n\r\f\v\x1b")
    return text if controls == 0 else None


def _kind_of_text(text: str) -> str:
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<") and ("<html" in start[:1024] or "<!doctype html" in start[:1024]):
        return (
            "is a web page (HTML), not a safetensors checkpoint: the browser may have saved a "
            "download page instead of the file"
        )
    if start[:1] in ("{", "["):
        return (
            "is a JSON text file (a config.json, perhaps), not a safetensors checkpoint: the "
            "weights are in the .safetensors file"
        )
    return "is a text file, not a safetensors checkpoint: a checkpoint is a binary file"


def loads(text: str | bytes) -> object:
    """json.loads whose whole numbers are at most 19 digits long (an int64's), so a number of
    5,000 digits is refused in words, not by Python's 4,300-digit limit."""
    return json.loads(text, parse_int=_bounded_int)


class TooLong(ValueError):
    """A JSON whole number longer than an int64's 19 digits."""


def _bounded_int(digits: str) -> int:
    n = len(digits.lstrip("-"))
    if n > MAX_DIGITS:
        raise TooLong(
            f"holds a whole number {n:,} digits long; a checkpoint's numbers have at most "
            f"{MAX_DIGITS}"
        )
    return int(digits)


def check_weights(tensors: dict[str, Tensor], source: str) -> None:
    """Refuse NaN, infinite or overflowing weights by tensor name."""
    for name, t in tensors.items():
        if not t.is_floating_point():
            continue
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{source}: tensor {name!r} holds NaN or infinite values")
        largest = float(t.abs().max()) if t.numel() else 0.0
        if largest > MAX_WEIGHT:
            raise ValueError(
                f"{source}: tensor {name!r} holds a weight of {largest:.3g}; weights above "
                f"{MAX_WEIGHT:,.0f} can overflow float32 on their way through the model, and a "
                "trained model's stay far below that (MiniLM's largest is about 8)"
            )


def check_outputs(outputs: Iterable[Tensor | None], source: str) -> None:
    """Refuse a model whose probe forward pass gave NaN or infinite values anywhere."""
    for t in outputs:
        if t is not None and not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"{source}: its weights load, but the model's outputs on a test input hold NaN "
                "or infinite values, so no page could show them"
            )
