"""BLAS and OpenMP threads for one computation, without looking the libraries up each time
(the library's t-SNE and the app's small products share the one controller)."""

from __future__ import annotations

_controller = None  # one threadpoolctl.ThreadpoolController, made on first use


def one_blas_thread():
    """A context manager: BLAS and OpenMP in one thread inside it. threadpool_limits(limits=1)
    reads the process's loaded libraries again on every call (5-28 ms a head map); one
    controller, made once, does not (~0.02 ms)."""
    global _controller
    if _controller is None:
        # scikit-learn's OpenMP runtime loaded first, so the one search finds it too
        from sklearn.manifold import MDS  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1)
