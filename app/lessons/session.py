"""Where a learner is in the lessons, and what they predicted: session state and the link.

The link carries the lesson and the step (``?lesson=<slug>&step=<n>``, and ``present=1`` for
presenter mode), never a prediction: a link opens at the step's question. Predictions live in
the session only. The widget callbacks of the Lessons page live here (design: never in a page).
"""

from __future__ import annotations

import streamlit as st

from app import state
from app.lessons import LESSONS
from app.lessons.base import Ask, Ctx, Lesson, right

LESSON, STEP, PRESENT = "lesson", "step", "present"  # session keys, also the link's parameters
PREDICT, REVEAL, YOURS, PICK = "predict", "reveal", "yours", "lesson_pick"  # widget keys
COMMITTED = "_lesson_committed"  # {slug: {step: prediction}}: what the learner committed
RESULTS = "_lesson_results"  # {slug: {step: right?}}: judged when the answer is first shown
TEXTS = "_lesson_texts"  # {slug: text}: the learner's sentences, per lesson
PRESENT_KEPT = "_present"  # presenter mode, kept while another page is open
ON = ("1", "true", "yes", "on")


def title_of(slug: str) -> str:
    """The picker's label for a lesson: "2 · What one attention head does"."""
    return f"{list(LESSONS).index(slug) + 1} · {LESSONS[slug].title}"


def follow_link() -> list[str]:
    """On the page's first run in a session, take the lesson, step and presenter mode from the
    link; what could not be followed comes back in plain words. Later runs keep the session's."""
    problems: list[str] = []
    if LESSON in st.session_state:
        return problems
    slug = st.query_params.get(LESSON, "")
    if slug and slug not in LESSONS:
        problems.append(
            f"There is no lesson “{state.md_escape(slug)}”, so the first lesson opens "
            f"(the lessons are {', '.join(LESSONS)})."
        )
    slug = slug if slug in LESSONS else next(iter(LESSONS))
    raw, steps = st.query_params.get(STEP, "1"), len(LESSONS[slug].steps)
    n = int(raw) if raw.isdigit() and len(raw) < 6 else 0
    if not 1 <= n <= steps:
        problems.append(
            f"step = “{state.md_escape(raw)}” is not a step of this lesson (it has steps 1 to "
            f"{steps}), so step 1 opens."
        )
        n = 1
    st.session_state[PRESENT] = st.query_params.get(PRESENT, "").lower() in ON
    st.session_state[PRESENT_KEPT] = st.session_state[PRESENT]
    go(slug, n)
    return problems


def go(slug: str, n: int) -> None:
    """Callback of Back, Next and the lesson picker: open step ``n`` of lesson ``slug``, at its
    question, or at its answer if this session already committed a prediction there."""
    lesson = LESSONS[slug]
    n = max(1, min(n, len(lesson.steps)))
    st.session_state[LESSON], st.session_state[STEP] = slug, n
    kept = st.session_state.get(COMMITTED, {}).get(slug, {})
    # set, not dropped: a widget the browser already shows (the same kind on the last step)
    # keeps what it showed unless the server sends it a value
    st.session_state[PREDICT] = kept.get(n)
    st.session_state[YOURS] = text(slug)


def text(slug: str) -> str:
    """The learner's sentences for a lesson: what they typed there, else the lesson's own
    ("3 1 4 1 5" for a digits task), else the sidebar's."""
    texts = st.session_state.setdefault(TEXTS, {})
    if slug not in texts:
        texts[slug] = LESSONS[slug].yours or st.session_state.get(state.TEXT, "")
    return texts[slug]


def keep_widgets() -> None:
    """Streamlit forgets a widget's value when its page is left; the lesson and presenter mode
    live on in session keys of their own, so the picker names the lesson on screen and the
    switch stays as it was when the learner comes back."""
    st.session_state[PICK] = st.session_state[LESSON]
    if PRESENT not in st.session_state:
        st.session_state[PRESENT] = st.session_state.get(PRESENT_KEPT, False)


def keep_present() -> None:
    """Callback of the presenter switch."""
    st.session_state[PRESENT_KEPT] = st.session_state[PRESENT]


def pick() -> None:
    """Callback of the lesson picker: its lesson from the first step."""
    go(st.session_state[PICK], 1)


def commit(slug: str, n: int) -> None:
    """Callback of Reveal: the prediction on screen becomes the learner's, for good."""
    value = st.session_state.get(PREDICT)
    if value is not None:
        st.session_state.setdefault(COMMITTED, {}).setdefault(slug, {})[n] = value


def keep_text(slug: str) -> None:
    """Callback of the learner's sentences box: remember them for this lesson."""
    st.session_state.setdefault(TEXTS, {})[slug] = st.session_state[YOURS]


def committed(slug: str, n: int) -> object | None:
    return st.session_state.get(COMMITTED, {}).get(slug, {}).get(n)


def record(slug: str, n: int, ask: Ask, prediction: object, answer: object) -> bool:
    """Judge a committed prediction once, when its answer is first shown; the score keeps it
    (a "try yours" answer that changes later does not rewrite the score)."""
    results = st.session_state.setdefault(RESULTS, {}).setdefault(slug, {})
    if n not in results:
        results[n] = right(ask, prediction, answer)
    return results[n]


def score(slug: str) -> tuple[int, int, int]:
    """(right, judged, steps) of a lesson in this session."""
    results = st.session_state.get(RESULTS, {}).get(slug, {})
    return sum(results.values()), len(results), len(LESSONS[slug].steps)


def ctx(lesson: Lesson) -> Ctx:
    kept, _ = state.split_sentences(text(lesson.slug))
    return Ctx(tuple(kept))


def link_query(slug: str, n: int, present: bool) -> dict[str, str]:
    query = {LESSON: slug, STEP: str(n)}
    if present:
        query[PRESENT] = "1"
    return query


def write_link(slug: str, n: int, present: bool) -> None:
    """The address bar names the step on screen (written only when it changes), and the Share
    link too (the keys are registered as linked)."""
    wanted = link_query(slug, n, present)
    for key in (LESSON, STEP, PRESENT):
        state.linked(key)
        if st.query_params.get(key) != wanted.get(key):
            if key in wanted:
                st.query_params[key] = wanted[key]
            else:
                del st.query_params[key]
