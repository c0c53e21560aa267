"""A byte budget for ``st.cache_resource``, which has only a count limit (``max_entries``).

``st.cache_data`` has its own byte limit (``max_size=``, pickled bytes, least recently used
out first); a cached resource (a model, read-only arrays shared by every session) does not, so
16 models of 500 MB would fit under ``max_entries=16``. ``byte_budget`` goes above the cache
decorator: it notes each entry's size (the weights, tensors and arrays it holds) in
least-recently-used order and, when the total passes the budget or the count passes
``max_entries``, drops the oldest entries with Streamlit's own per-key ``clear(*args)``. The
newest entry is always kept, so a budget must hold at least the biggest single entry.

A hit costs one dict lookup under a lock; sizes are measured once, when an entry is new.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
import torch
from streamlit.runtime.caching.cache_utils import _make_value_key
from torch import nn

MB = 1_000_000


def nbytes(obj: object) -> int:
    """Bytes of the arrays, tensors and module weights an object holds (its Python lists and
    strings are not counted: they are small next to the arrays)."""
    seen: set[int] = set()

    def walk(o: object) -> int:
        if id(o) in seen or o is None or isinstance(o, (str, bytes, int, float, bool)):
            return 0
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            return int(o.nbytes)
        if isinstance(o, torch.Tensor):
            return o.numel() * o.element_size()
        if isinstance(o, nn.Module):
            tensors = [*o.parameters(), *o.buffers()]
            return sum(walk(t) for t in tensors)
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return sum(walk(getattr(o, f.name)) for f in dataclasses.fields(o))
        if isinstance(o, dict):
            return sum(walk(v) for v in o.values())
        if isinstance(o, (list, tuple)):
            return sum(walk(v) for v in o)
        return 0

    return walk(obj)


class ByteBudget:
    """A cached resource function with a byte budget on top of its ``max_entries``.

    It keeps no reference to the arguments (a trained model's key is its checkpoint bytes):
    entries are known by the arguments' Python hash, and dropped by Streamlit's own key.
    """

    def __init__(self, cached: Callable, max_bytes: int, size: Callable[[object], int]) -> None:
        max_entries = getattr(getattr(cached, "_info", None), "max_entries", None)
        if not max_entries:
            raise ValueError(f"{cached!r} needs max_entries before a byte budget")
        self.cached = cached
        self.max_bytes = int(max_bytes)
        self.max_entries = int(max_entries)
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[str, int]] = OrderedDict()  # -> (st key, bytes)
        self._lock = threading.Lock()
        functools.update_wrapper(self, cached)

    def __repr__(self) -> str:
        return f"<byte_budget {self.max_bytes / MB:,.0f} MB over {self.cached!r}>"

    @property
    def total(self) -> int:
        """Bytes held by the entries this budget knows of."""
        with self._lock:
            return sum(n for _, n in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, *args, **kwargs):
        value = self.cached(*args, **kwargs)
        try:
            key: Hashable = hash((args, tuple(sorted(kwargs.items()))))
        except TypeError:  # an unhashable argument: Streamlit's own key (slower, still right)
            key = self._streamlit_key(args, kwargs)
        with self._lock:
            if key in self._entries:  # a hit: only the order changes
                self._entries.move_to_end(key)
                return value
        # a new entry: measure it and find Streamlit's key for it, outside the lock
        entry = (self._streamlit_key(args, kwargs), self.size(value))
        drop = []
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            total = sum(n for _, n in self._entries.values())
            while len(self._entries) > 1 and (
                total > self.max_bytes or len(self._entries) > self.max_entries
            ):
                _, (st_key, n) = self._entries.popitem(last=False)
                total -= n
                drop.append(st_key)
        for st_key in drop:  # a session still using the value keeps its own reference
            self._function_cache().clear(key=st_key)
        return value

    def clear(self) -> None:
        """Drop every entry (Streamlit's clear, and this budget's accounts)."""
        with self._lock:
            self._entries.clear()
        self.cached.clear()

    # Streamlit 1.67's own value key and cache, as CachedFunc.clear(*args) finds them; used
    # so that no argument (such as checkpoint bytes) is kept alive here after its entry goes.
    def _streamlit_key(self, args: tuple, kwargs: dict) -> str:
        info = self.cached._info
        return _make_value_key(
            cache_type=info.cache_type,
            func=info.func,
            func_args=args,
            func_kwargs=kwargs,
            hash_funcs=info.hash_funcs,
        )

    def _function_cache(self):
        return self.cached._info.get_function_cache(self.cached._function_key)


def byte_budget(max_bytes: int, size: Callable[[object], int] = nbytes):
    """Decorate a ``st.cache_resource(max_entries=...)`` function (put this line above it)."""

    def wrap(cached: Callable) -> ByteBudget:
        return ByteBudget(cached, max_bytes, size)

    return wrap
