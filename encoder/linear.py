"""``Linear``: ``nn.Linear`` with an optional faster CPU path for inference (issue 23).

PyTorch's float32 ``nn.Linear`` on CPU calls MKL's sgemm. On CPUs where MKL runs a generic code
path (AMD EPYC here: the same speed with MKL_ENABLE_INSTRUCTIONS=SSE4_2 as with AVX512), oneDNN's
matmul with the weight packed once into its own blocked layout (what ``torch.compile``'s freezing
uses) is about 2.3x faster. The sums are grouped differently, so the last bits differ (about
1e-6 on MiniLM's hidden states, as far from Hugging Face's numbers as MKL's are). Off by default:
with ``FAST_CPU = False`` every number is MKL's, exactly as ``nn.Linear`` gives it.

The packed copy is made on first use and again whenever the weight changes (its version counter
or storage; for a weight made under inference_mode, its storage only); it costs a second copy of
the weight. Autograd always takes MKL's path.
"""

from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FAST_CPU = False  # True: oneDNN with packed weights for float32 CPU inference (see above)
PACK_ROWS = 64  # the batch-rows hint oneDNN packs for; any row count works
_PACKED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[int, int], Tensor]] = (
    weakref.WeakKeyDictionary()
)  # module -> ((weight version, data pointer), packed weight); never on the module itself
_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class Linear(nn.Linear):
    """y = x W^T + b, as ``nn.Linear`` (same parameters, same state_dict names)."""

    def forward(self, x: Tensor) -> Tensor:
        """Shape: (..., in_features) -> (..., out_features)"""
        if not (FAST_CPU and _ONEDNN) or not _packable(x, self.weight):
            return F.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self._packed(), self.bias, "none", [], "")

    def _packed(self) -> Tensor:
        w = self.weight
        # a weight made under inference_mode has no version counter: its storage keys it alone
        key = (-1 if w.is_inference() else w._version, w.data_ptr())
        cached = _PACKED.get(self)
        if cached is None or cached[0] != key:
            cached = (key, torch.ops.mkldnn._reorder_linear_weight(w.detach(), PACK_ROWS))
            _PACKED[self] = cached
        return cached[1]


def _packable(x: Tensor, w: Tensor) -> bool:
    """float32 on the CPU, and nothing for autograd to record."""
    if x.dtype != torch.float32 or w.dtype != torch.float32 or x.device.type != "cpu":
        return False
    return not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))
