"""The Lessons page's class-mode pieces: the teacher's live panel (who joined, who answered,
the spread of answers), the student's watcher that follows the teacher, and the Join box. UI
only: the room lives in the store (app.classroom), the callbacks in app.lessons.classmode."""

from __future__ import annotations

import streamlit as st

from app import ui
from app.charts.classroom import answers_figure
from app.charts.qr import qr_png
from app.lessons import classmode as cm
from app.lessons.base import Ask, Number, right

TEACHER_EVERY = 1.5  # s: the teacher's panel refreshes (a fragment, not the page)
STUDENT_EVERY = 1.0  # s: a student's page checks whether the teacher moved on


def join_box() -> None:
    """For a student, under the picker: the code on the teacher's screen joins their class."""
    problem = st.session_state.pop(cm.JOIN_ERROR, None)
    with st.expander("Join a class", icon=":material/groups:", expanded=problem is not None):
        if problem:
            st.error(problem, icon=":material/error:")
        row = st.container(horizontal=True, vertical_alignment="bottom")
        row.text_input(
            "Room code (on the teacher's screen)",
            key=cm.JOIN,
            max_chars=12,
            placeholder="K7M2Q",
            width=240,
            on_change=cm.join_typed,
        )
        row.button("Join", key="class_join_button", on_click=cm.join_typed)
        st.caption(
            "No account and no name: your answers go to the class anonymously, and the "
            "teacher's screen shows how the class answered, never who."
        )


def class_popover(where, url: str | None) -> None:
    """The teacher's class in one button: the join link's QR code, large enough to scan from
    the back of a room, the link itself, and End the class."""
    with where.popover(f"Class {cm.code()}", icon=":material/groups:"):
        if url:
            link = cm.join_link(url)
            st.image(qr_png(link), width=360)
            st.caption(f"{link} · or type the code {cm.code()} under “Join a class”")
        st.button("End the class", key="class_end", on_click=cm.end, icon=":material/logout:")


def teacher_panel(n: int, ask: Ask, options: list[str], answer: object, present: bool) -> None:
    """Live (a fragment every TEACHER_EVERY s): students joined and answered, and how they
    answered; once the answer is out, how many were right."""

    @st.fragment(run_every=TEACHER_EVERY)
    def panel() -> None:
        try:
            room = cm.store().state(cm.code())
            tally = cm.store().tally(cm.code(), n)
        except cm.UNAVAILABLE as err:
            st.warning(f"The class room cannot be read: {err}")
            return
        said = [f"Code <b data-testid='class-code' style='letter-spacing:0.08em'>{cm.code()}</b>"]
        said += [f"<b>{room['students']}</b> joined", f"<b>{room['answered']}</b> answered"]
        good: set[str] = set()
        if answer is not None:
            good = {v for v in tally if right(ask, cm.decode(ask, v), answer)}
            said.append(f"<b>{sum(tally[v] for v in good)}/{sum(tally.values())}</b> right")
        st.markdown(
            f"<div style='font-size:{24 if present else 20}px'>{' · '.join(said)}</div>",
            unsafe_allow_html=True,
        )
        number = isinstance(ask, Number)
        fig = answers_figure(
            tally,
            None if number else options,
            right=good,
            answer=float(answer) if number and answer is not None else None,
            unit=ask.unit if number else "",
            height=230 if present else 260,
            font_size=18 if present else 14,
        )
        ui.plotly_chart(fig, key=f"class_answers_{n}")

    panel()


def watch() -> None:
    """A student's page follows the teacher: when the room's step or reveal changes, the whole
    page runs again (within STUDENT_EVERY s)."""

    @st.fragment(run_every=STUDENT_EVERY)
    def watcher() -> None:
        if cm.changed():
            st.rerun(scope="app")

    # in a block of its own: a fragment that draws nothing otherwise takes no place of its own,
    # and each of its runs cleared the element drawn after it (the student's verdict went
    # within a second of the reveal)
    with st.container():
        watcher()


def student_status(room: dict) -> None:
    if room["revealed"]:
        st.caption(f"Class {cm.code()}: the teacher has revealed the answer.")
    elif room.get("mine") is None:
        st.caption(f"Class {cm.code()}: your answer goes to the teacher's screen as you pick it.")
    else:
        st.success(
            "Your answer is in. You can change it until the teacher reveals the answer.",
            icon=":material/how_to_vote:",
        )
