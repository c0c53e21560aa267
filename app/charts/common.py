"""What every chart shares: fonts, colours, layout, and safe token labels. No st.* calls."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

FONT = dict(
    family="Source Sans, Source Sans Pro, Segoe UI, Helvetica, Arial, sans-serif",
    size=14,
    color="#31333f",
)
DIVERGING = "RdBu_r"  # red positive, blue negative, white zero
# Plotly's config (not the figure's): the camera button saves a PNG at 3x the chart's size on
# screen (a 439 x 377 chart becomes 1317 x 1131), sharp on a slide or a projector.
EXPORT_CONFIG = {"toImageButtonOptions": {"format": "png", "scale": 3}}


def safe_label(text: str) -> str:
    """Token text for a plotly label: plotly reads a subset of HTML, so escape it."""
    return html.escape(text, quote=False)


def token_labels(tokens: list[str]) -> list[str]:
    """Unique axis labels ("3 · cat"): plotly merges equal category labels, tokens repeat."""
    return [f"{i} · {safe_label(t)}" for i, t in enumerate(tokens)]


# Every chart's template, as the default: plotly then fills it in as it serialises the figure
# (~0.5 ms), where naming it in each layout copied and checked it whole (~5 ms a figure; the
# Inside a layer page draws ~25 figures)
pio.templates.default = "plotly_white"


def layout_dict(*, height: int, title: str | None = None) -> dict:
    return dict(
        height=height,
        title=dict(text=title, x=0, xanchor="left", font=dict(size=16)) if title else None,
        font=FONT,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )


def apply_layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    return fig.update_layout(**layout_dict(height=height, title=title))


def short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def vector_heatmap(
    z: np.ndarray,
    rows: str,
    *,
    labels: list[str] | None = None,
    bound: float | None = None,
    thickness: int = 12,
) -> go.Heatmap:
    """Vectors as rows (one per token or position, named ``rows`` in the hover), dimensions as
    columns, on a diverging scale around 0. The bound is the 99th percentile of |z| unless
    given: outliers saturate, the hover is exact. Shape: z (N, D)"""
    if bound is None:
        bound = float(np.percentile(np.abs(z), 99)) or 1.0
    return go.Heatmap(
        z=z,  # no x: columns are 0 … D-1 by default, and plotly validates no 384-long list
        y=labels,
        colorscale=DIVERGING,
        zmid=0,
        zmin=-bound,
        zmax=bound,
        colorbar=dict(title=dict(text="value"), thickness=thickness),
        hovertemplate=f"{rows} %{{y}}<br>dimension %{{x}}<br>value %{{z:.4f}}<extra></extra>",
    )
