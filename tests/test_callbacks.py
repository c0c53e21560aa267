"""No widget callback keeps a page's data alive between runs.

Streamlit keeps every widget's callback, with its arguments, until the session's next run. A
function defined in a page (a script Streamlit runs as ``__main__``) carries that page's globals
with it, its forward pass and arrays among them: at the largest settings six idle sessions kept
six 164 MB results alive that way, past the memory bound. Callbacks live in modules that hold
no data (app.state, the canvas component) and take small arguments.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app.compute.cache import nbytes
from tests.test_app import MAIN, assert_clean

TWO = "She sat on the river bank.\nHe opened a bank account."
PAGES = {  # page file -> a link that shows the widgets with callbacks
    "views/encode.py": {},
    "views/attention.py:Heads": {"view": "Heads"},
    "views/attention.py:Token lines": {"view": "Token lines"},
    "views/attention.py:Head statistics": {"view": "Head statistics"},
    "views/attention.py:Compare": {"view": "Compare"},
    "views/positional.py": {"pe_view": "Order test"},
    "views/projections.py": {},
    "views/padding.py": {},
    "views/inside_layer.py": {},
    "views/train.py": {},
    "views/lessons.py": {"lesson": "attention-head", "step": "6"},
}
MAX_ARG_BYTES = 64_000  # a callback's arguments: labels and indices, never arrays


def callbacks(at: AppTest) -> dict[str, tuple]:
    """Every callback the session keeps: widget id -> (function, args, kwargs)."""
    session = object.__getattribute__(at.session_state, "_state")  # AppTest's wrapper
    session = object.__getattribute__(session, "_state")  # SafeSessionState -> SessionState
    found = {}
    for wid, meta in session._new_widget_state.widget_metadata.items():
        fns = [meta.callback, *(meta.callbacks or {}).values()]
        for fn in filter(None, fns):
            found[wid] = (fn, meta.callback_args or (), meta.callback_kwargs or {})
    return found


def unwrap(fn, args: tuple, kwargs: dict):
    """A partial's function and all the arguments it will be called with."""
    while isinstance(fn, functools.partial):
        args, kwargs = (*fn.args, *args), {**fn.keywords, **kwargs}
        fn = fn.func
    return fn, args, kwargs


def big(value: object) -> int:
    """Bytes of arrays and tensors in an argument (lists of them included)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return nbytes(value)
    if isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return sum(big(v) for v in items)
    return nbytes(value)


@pytest.mark.parametrize("page", list(PAGES))
def test_no_callback_holds_a_page_or_its_arrays(page):
    at = AppTest.from_file(MAIN, default_timeout=240)
    at.query_params["text"] = TWO
    for key, value in PAGES[page].items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page.split(":")[0]).run()
    assert_clean(at)
    found = callbacks(at)
    assert found, "every page shows the sidebar's example picker, which has a callback"
    for wid, (fn, args, kwargs) in found.items():
        fn, args, kwargs = unwrap(fn, args, kwargs)
        where = f"{fn.__qualname__} (widget {wid.rsplit('-', 1)[-1]})"
        assert fn.__module__ != "__main__", f"{where} is defined in a page: it keeps the page"
        assert "<locals>" not in fn.__qualname__ or fn.__closure__ is None, where
        assert big([*args, *kwargs.values()]) <= MAX_ARG_BYTES, where
