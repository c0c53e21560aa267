"""Class mode: a teacher's room on the projector, every student's prediction posted to it live.

Where a class member is lives in the store (app.classroom), never in this process: the room's
lesson, step and reveal; the students' answers. A session keeps only who it is: the room's code,
its role, and its id in the room. The link carries them too (``?room=K7M2Q&student=…`` for a
student, ``&teach=…`` for the teacher), so a reloaded page, or one whose app server restarted,
comes back to its room with its answer. They are never part of a Share link.

The widget callbacks of class mode live here (design: never in a page).
"""

from __future__ import annotations

import math
import secrets
from urllib.parse import urlencode

import streamlit as st

from app import state
from app.classroom import Store, default_store, normal_code
from app.classroom.base import check_student, new_student
from app.lessons import LESSONS
from app.lessons import session as ls
from app.lessons.base import Ask, Number

ROOM, STUDENT, TEACH = state.CLASS_PARAMS  # link parameters and session keys
ROLE = "_class_role"  # "teacher" or "student"
SEEN = "_class_seen"  # seen(room) when the page was last drawn, for the watcher
NOTICE = "_class_notice"  # what the last callback could not do, said on the next run
JOIN = "class_join"  # the code box's widget key
JOIN_ERROR = "_class_join_error"  # why the typed code did not join, said beside the box
TEACHER, PUPIL = "teacher", "student"
UNAVAILABLE = (ValueError, ConnectionError)  # what a store says in words


def store() -> Store:
    return default_store()


def role() -> str | None:
    return st.session_state.get(ROLE)


def code() -> str | None:
    return st.session_state.get(ROOM) if role() else None


def notice(message: str) -> None:
    st.session_state[NOTICE] = message


def take_notice() -> str | None:
    return st.session_state.pop(NOTICE, None)


# ---- answers: what a widget holds <-> what the store keeps (text) ---------------------------


def encode(ask: Ask, value: object) -> str:
    if isinstance(ask, Number):
        number = float(value)
        return str(int(number)) if ask.whole and number.is_integer() else format(number, ".10g")
    return str(value)


def decode(ask: Ask, raw: str | None) -> object | None:
    """A stored answer back in the widget's type (None where it no longer reads as one)."""
    if raw is None:
        return None
    if isinstance(ask, Number):
        try:
            number = float(raw)
        except ValueError:
            return None
        return int(number) if ask.whole else number
    return raw


def check_answer(ask: Ask, options: list[str], value: object) -> str:
    """The answer as the store keeps it, or a ValueError: a value the step's widget cannot
    give (a forged choice, a number out of range) never reaches the room."""
    if isinstance(ask, Number):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and ask.low <= number <= ask.high):
            raise ValueError(
                f"“{state.md_escape(str(value), 40)}” is not an answer to this step: type a "
                f"number from {ask.say(ask.low)} to {ask.say(ask.high)}."
            )
        return encode(ask, number)
    if value not in options:
        raise ValueError(
            f"“{state.md_escape(str(value), 40)}” is not one of this step's choices: pick one "
            f"of {', '.join(options[:8])}{'…' if len(options) > 8 else ''}."
        )
    return str(value)


# ---- joining, starting, following ----------------------------------------------------------


def follow_link() -> list[str]:
    """On a session's first run: a link with ``room`` joins (or, with the teacher's token,
    resumes) that class. What could not be followed comes back in plain words."""
    if ROLE in st.session_state or ROOM not in st.query_params:
        return []
    raw = st.query_params.get(ROOM, "")
    st.session_state[ROLE] = None
    try:
        room = normal_code(raw)
        token = st.query_params.get(TEACH, "")
        if token and store().is_teacher(room, token):
            _enter(room, TEACHER, token)
            return []
        student = st.query_params.get(STUDENT, "")
        try:
            check_student(student)
        except ValueError:
            student = new_student()  # the link is the class's: this browser gets its own id
        store().join(room, student)
    except UNAVAILABLE as err:
        return [f"You are not in a class: {err}"]
    _enter(room, PUPIL, student)
    return []


def join_typed() -> None:
    """Callback of the Join box: the code a student typed (Enter in the box, then the button,
    call it twice: the second finds the student in the class already)."""
    if role():
        return
    try:
        room = normal_code(st.session_state.get(JOIN, ""))
        student = new_student()
        store().join(room, student)
    except UNAVAILABLE as err:
        st.session_state[JOIN_ERROR] = str(err)
        return
    _enter(room, PUPIL, student)
    st.session_state[JOIN] = ""


def start(slug: str, n: int) -> None:
    """Callback of Start a class: a room for this lesson at this step, with this session as its
    teacher (a token in the teacher's link lets a reloaded page take the room back)."""
    token = secrets.token_urlsafe(16)
    try:
        room = store().create_room(slug)
        store().set_teacher(room, token)
        store().set_text(room, ls.text(slug))
        store().set_step(room, n, False)
    except UNAVAILABLE as err:
        notice(f"The class could not start: {err}")
        return
    _enter(room, TEACHER, token)


def end() -> None:
    """Callback of End the class: the room and its answers are gone; students are told."""
    try:
        store().close(code())
    except UNAVAILABLE as err:
        notice(f"The class room could not be closed: {err}")
    leave()


def leave() -> None:
    for key in (ROLE, ROOM, STUDENT, TEACH, SEEN):
        st.session_state.pop(key, None)
    st.session_state[ROLE] = None  # write_link then drops the class from the address


def _enter(room: str, who: str, secret: str) -> None:
    st.session_state[ROLE], st.session_state[ROOM] = who, room
    st.session_state[TEACH if who == TEACHER else STUDENT] = secret
    st.session_state.pop(SEEN, None)


def sync() -> dict | None:
    """Every run of a class member: the room as it is now. A student is moved to its lesson,
    step and sentences; a room that is gone ends class mode with a notice."""
    if not role():
        return None
    try:
        room = store().state(code())
    except UNAVAILABLE as err:
        was = code()
        leave()
        notice(f"The class {was} is over: {err}" if isinstance(err, ValueError) else str(err))
        return None
    slug = room["lesson"] if room["lesson"] in LESSONS else next(iter(LESSONS))
    here = (st.session_state.get(ls.LESSON), st.session_state.get(ls.STEP))
    if role() == PUPIL:
        st.session_state.setdefault(ls.TEXTS, {})[slug] = room["text"] or ls.text(slug)
    if (role() == PUPIL or SEEN not in st.session_state) and here != (slug, room["step"]):
        ls.go(slug, room["step"])  # a student follows; a teacher's reloaded page takes it back
    if role() == PUPIL:
        st.session_state[ls.YOURS] = ls.text(slug)
        mine = store().answer_of(code(), room["step"], st.session_state[STUDENT])
        ask = LESSONS[slug].steps[min(room["step"], len(LESSONS[slug].steps)) - 1].ask
        if mine is not None and st.session_state.get(ls.PREDICT) is None:
            st.session_state[ls.PREDICT] = decode(ask, mine)  # a reloaded page shows it again
        room["mine"] = mine
    st.session_state[SEEN] = seen(room)
    return room


def changed() -> bool:
    """For the watcher: whether the room moved on since the page was drawn."""
    try:
        room = store().state(code())
    except UNAVAILABLE:
        return True  # the full run says what happened
    return st.session_state.get(SEEN) != seen(room)


def seen(room: dict) -> tuple:
    """What a student's page follows: the lesson, the step, the reveal and the sentences."""
    return room["lesson"], room["step"], room["revealed"], room["text"]


# ---- what a student and the teacher do in a class ------------------------------------------


def post(ask: Ask, options: list[str], n: int) -> None:
    """Callback of a student's prediction widget: the answer goes to the room (and may change
    until the reveal)."""
    value = st.session_state.get(ls.PREDICT)
    if value is None:
        return
    try:
        answer = check_answer(ask, options, value)
        store().answer(code(), n, st.session_state[STUDENT], answer)
    except UNAVAILABLE as err:
        notice(f"Your answer was not sent: {err}")


def reveal_all(slug: str, n: int) -> None:
    """Callback of Reveal to everyone."""
    _set_step(slug, n, True)


def move(slug: str, n: int) -> None:
    """Callback of the teacher's Back and Next: everyone moves to step ``n``, at its question."""
    ls.go(slug, n)
    _set_step(slug, st.session_state[ls.STEP], False)


def share_text(slug: str) -> None:
    """Callback of the teacher's sentences box: every student's step runs on them."""
    ls.keep_text(slug)
    try:
        store().set_text(code(), ls.text(slug))
    except UNAVAILABLE as err:
        notice(f"The class did not get your sentences: {err}")


def _set_step(slug: str, n: int, revealed: bool) -> None:
    try:
        store().set_step(code(), n, revealed)
    except UNAVAILABLE as err:
        notice(f"The class did not move: {err}")


def join_link(base: str) -> str:
    """The address students open (the QR code's): the Lessons page with the room's code."""
    return f"{base.rstrip('/')}/lessons?{urlencode({ROOM: code()})}"


def write_link() -> None:
    """The address bar keeps this session's place in its class (reload, server restart)."""
    wanted: dict[str, str] = {}
    if role():
        wanted[ROOM] = code()
        secret = TEACH if role() == TEACHER else STUDENT
        wanted[secret] = st.session_state[secret]
    for key in state.CLASS_PARAMS:
        if st.query_params.get(key) != wanted.get(key):
            if key in wanted:
                st.query_params[key] = wanted[key]
            elif key in st.query_params:
                del st.query_params[key]
