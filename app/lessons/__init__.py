"""The lessons, as data: ``LESSONS`` maps each slug to its lesson, in the order they are taught.

Each lesson lives in its own module as ``LESSON`` (a ``base.Lesson``); its steps' reveals call the
same ``app.compute`` and ``app.charts`` functions as the page they teach (design: lessons reuse,
never copy).
"""

from __future__ import annotations

from app.lessons import (
    attention,
    inside_layer,
    layers,
    padding,
    positions,
    text_to_tensors,
    train,
)
from app.lessons.base import Ctx, Lesson, Reveal, Shown, Step

LESSONS: dict[str, Lesson] = {
    module.LESSON.slug: module.LESSON
    for module in (
        text_to_tensors,
        attention,
        positions,
        padding,
        inside_layer,
        layers,
        train,
    )
}

__all__ = ["LESSONS", "Ctx", "Lesson", "Reveal", "Shown", "Step"]
