"""What every chart shares: fonts, colours, layout, and safe token labels. No st.* calls."""

from __future__ import annotations

import html
import math

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


# Margins that fit what automargin would make room for (measured in Chromium, 1024 and 1920
# px, 20 and 128 tokens), a few px over rather than under: tick labels alone, labels and an
# axis title, labels turned by 60° and a title, a colour bar of weights (0.25) or of values (-2)
TICKS, TITLED, TURNED = 11, 38, 44
VECTOR_ROWS, VECTOR_BOTTOM, VECTOR_BAR = 41, 61, 84
WEIGHT_BAR = 88


# Advance widths of the chart font (Source Sans, as Chromium draws it) in thousandths of an
# em, measured once; any other character counts as a full em, wider than most
_WIDTHS = """
200 288 426 497 497 824 609 249 303 303 416 497 250 308 248 350 497 497 497 497 497 497 497
497 497 497 249 250 497 497 497 425 847 537 587 544 614 524 491 616 652 263 443 577 486 727
647 662 565 662 568 521 529 644 521 786 511 469 522 303 350 303 497 500 542 503 551 436 553
494 288 504 544 246 247 494 255 829 547 539 553 553 347 419 316 544 467 719 446 466 425 303
241 303 497 245 947 497 497"""
_EM = dict(
    zip(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~·…×−",
        map(int, _WIDTHS.split()),
        strict=True,
    )
)


def text_px(labels, size: int = 14) -> float:
    """Width on screen of the widest label (plotly's text: HTML-escaped) at ``size`` px."""
    widest = max((sum(_EM.get(c, 1000) for c in html.unescape(t)) for t in labels), default=0)
    return size * widest / 1000


def margins(*, left: float = 10, right: float = 10, top: int = 40, bottom: float = 10) -> dict:
    """Plotly's margins as its automargin would grow them (the axes keep automargin on): a
    chart whose labels fit the margins it starts with is drawn once, not twice per update."""
    return dict(l=math.ceil(left), r=math.ceil(right), t=top, b=math.ceil(bottom))


def vector_margins(labels: list[str]) -> dict:
    """Margins of vector_heatmap's chart: token labels and an axis title on the left, the colour
    bar on the right, dimension numbers and a title below."""
    return margins(left=VECTOR_ROWS + text_px(labels), right=VECTOR_BAR, bottom=VECTOR_BOTTOM)
