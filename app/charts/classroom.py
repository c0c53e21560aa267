"""The class's answers to one step, for the teacher's screen. No st.* calls."""

from __future__ import annotations

import textwrap

import plotly.graph_objects as go

from .common import layout_dict, safe_label

ANSWERS = "#94a3b8"  # slate: the class's answers before the model's is out
RIGHT = "#16a34a"  # green: the answers the model's answer makes right
MODEL = "#4f46e5"  # the app's primary colour: the model's own answer on a number line


def answers_figure(
    tally: dict[str, int],
    options: list[str] | None = None,
    *,
    right: set[str] = frozenset(),
    answer: float | None = None,
    unit: str = "",
    height: int = 260,
    font_size: int = 14,
) -> go.Figure:
    """The spread of a class's answers: a bar per choice (every option, in the step's order,
    the unpicked at 0), or a histogram of numbers. After the reveal the right answers are green
    (``right``) and a number line marks the model's ``answer``. ``font_size``: 18 or so for a
    projector."""
    fig = go.Figure()
    total = sum(tally.values())
    if options is not None:
        names = list(options) + [v for v in tally if v not in options]  # from older sentences
        counts = [tally.get(v, 0) for v in names]
        fig.add_bar(
            x=[_wrapped(v, max(8, min(16, 48 // len(names)))) for v in names],
            y=counts,
            marker_color=[RIGHT if v in right else ANSWERS for v in names],
            text=[str(c) if c else "" for c in counts],
            textposition="outside",
            textfont_size=font_size,
            cliponaxis=False,
            customdata=[safe_label(v) for v in names],
            hovertemplate="%{customdata}: %{y} students<extra></extra>",
        )
        fig.update_xaxes(type="category", tickangle=0 if len(names) <= 6 else -40)
    else:
        values = [float(v) for v, n in tally.items() for _ in range(n)]
        fig.add_histogram(
            x=values,
            marker_color=ANSWERS,
            nbinsx=min(20, max(5, len(set(values)))),
            hovertemplate=f"%{{x}}{unit}: %{{y}} students<extra></extra>",
        )
        if answer is not None:
            fig.add_vline(
                x=answer,
                line=dict(color=MODEL, width=3),
                annotation_text="the model",
                annotation_position="top",
            )
        fig.update_xaxes(title_text=f"answer{f' ({unit.strip()})' if unit.strip() else ''}")
    fig.update_layout(**layout_dict(height=height), showlegend=False, bargap=0.25)
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), font_size=font_size)
    fig.update_yaxes(title_text="students", rangemode="tozero", dtick=_dtick(tally))
    fig.update_xaxes(tickfont_size=font_size - 2)
    fig.update_yaxes(tickfont_size=font_size - 2, title_font_size=font_size - 2)
    fig.update_layout(meta=dict(name=f"The class's answers ({total})"))
    return fig


def _wrapped(label: str, width: int = 16) -> str:
    """A choice's label on at most 3 lines, so the bars' labels never run into each other."""
    lines = textwrap.wrap(label, width, max_lines=3, placeholder="…") or [""]
    return "<br>".join(safe_label(line) for line in lines)


def _dtick(tally: dict[str, int]) -> int | None:
    """Whole students on the axis: a tick every 1, 2, 5, 10… so there are at most ~6."""
    top = max(tally.values(), default=0)
    for tick in (1, 2, 5, 10, 20, 50, 100):
        if top / tick <= 6:
            return tick
    return None
