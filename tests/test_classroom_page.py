"""Class mode on the Lessons page in AppTest: one teacher session and several student sessions
share a real SQLite store (a file of this test's own). The teacher starts a class, students join
by link or by code, their answers reach the teacher's panel, the reveal and the next step reach
every student, a reload keeps a student's room and answer, and bad input gets words."""

from __future__ import annotations

import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from app.classroom import default_store
from app.classroom.base import new_student
from app.lessons import LESSONS
from app.lessons import classmode as cm
from app.lessons.base import Choice, Number
from tests.servers import redis_server
from tests.test_app import assert_clean
from tests.test_lessons_page import lessons_app, predict_widget
from tests.test_shell import share_query_of

pytestmark = pytest.mark.timeout(600)
SLUG = "attention-head"
CHOICE_STEP = 3  # "The head that looks back": a selectbox of layer 0's heads
NUMBER_STEP = 1


@pytest.fixture(autouse=True)
def rooms(tmp_path, monkeypatch):
    """This test's own store: a SQLite file in its temp folder."""
    monkeypatch.setenv("ENCODER_EXPLORER_STORE", f"sqlite:///{tmp_path}/rooms.db")
    return tmp_path / "rooms.db"


def start_class(step: int = CHOICE_STEP) -> tuple[AppTest, str]:
    teacher = lessons_app(lesson=SLUG, step=str(step), present="1")
    teacher.button(key="class_start").click().run()
    assert_clean(teacher)
    return teacher, teacher.session_state[cm.ROOM]


def panel(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "data-testid='class-code'" in m.value)


def notices(at: AppTest) -> str:
    return " ".join(e.value for e in (*at.warning, *at.info, *at.error))


def test_start_join_answer_reveal_and_move_on():
    class_flow()


def test_the_same_class_on_redis(tmp_path, monkeypatch):
    """Several app servers share rooms through Redis: the page works the same over it."""
    with redis_server(tmp_path) as url:
        monkeypatch.setenv("ENCODER_EXPLORER_STORE", url)
        class_flow()


def class_flow() -> None:
    teacher, code = start_class()
    assert teacher.query_params[cm.ROOM] == code and teacher.query_params[cm.TEACH]
    assert f">{code}</b>" in panel(teacher)
    assert "<b>0</b> joined" in panel(teacher)
    students = [lessons_app(room=code) for _ in range(3)]
    options = list(LESSONS[SLUG].steps[CHOICE_STEP - 1].ask.choices(cm_ctx(students[0])))
    for i, at in enumerate(students):
        assert_clean(at)
        assert at.session_state[cm.ROLE] == cm.PUPIL
        assert at.session_state["step"] == CHOICE_STEP
        assert not [b for b in at.button if b.key in ("reveal", "next", "back")]
        predict_widget(at).set_value(options[i % 2]).run()
        assert "Your answer is in" in at.success[0].value
    predict_widget(students[2]).set_value(options[2]).run()  # changed their mind
    teacher.run()
    assert "<b>3</b> joined · <b>3</b> answered" in panel(teacher)
    tally = default_store().tally(code, CHOICE_STEP)
    assert tally == {options[0]: 1, options[1]: 1, options[2]: 1}

    teacher.button(key="reveal").click().run()
    assert "The model's answer is" in teacher.info[0].value
    assert " right" in panel(teacher)
    for at in students:
        at.run()
        verdict = [e.value for e in (*at.success, *at.warning) if "You predicted" in e.value]
        assert verdict and predict_widget(at).disabled
    teacher.button(key="next").click().run()
    for at in students:
        at.run()
        assert at.session_state["step"] == CHOICE_STEP + 1
        assert predict_widget(at).value is None and not predict_widget(at).disabled


def cm_ctx(at: AppTest):
    from tests.test_lessons_page import ctx_of

    return ctx_of(at, SLUG)


def test_a_student_who_reloads_keeps_the_room_and_the_answer():
    teacher, code = start_class(NUMBER_STEP)
    student = lessons_app(room=code)
    predict_widget(student).set_value(2.5).run()
    link = dict(student.query_params)
    assert link[cm.ROOM] == code and link[cm.STUDENT]
    assert cm.TEACH not in link
    again = lessons_app(**link)  # a reload: a new session from the address bar
    assert_clean(again)
    assert again.session_state[cm.STUDENT] == link[cm.STUDENT]
    assert predict_widget(again).value == pytest.approx(2.5)
    assert default_store().state(code)["students"] == 1  # the same seat, not a second one
    # the teacher's page reloads too, and takes the room back at its step
    back = lessons_app(**dict(teacher.query_params))
    assert back.session_state[cm.ROLE] == cm.TEACHER and back.session_state["step"] == NUMBER_STEP
    # neither the student's id nor the teacher's token is in a Share link
    for at in (again, back):
        assert not set(share_query_of(at)) & {cm.ROOM, cm.STUDENT, cm.TEACH}


def test_joining_by_typed_code_and_leaving():
    _, code = start_class()
    at = lessons_app()
    at.text_input(key=cm.JOIN).set_value(f" {code.lower()} ").run()
    assert_clean(at)
    assert at.session_state[cm.ROLE] == cm.PUPIL and at.session_state["step"] == CHOICE_STEP
    at.button(key="class_leave").click().run()
    assert not at.session_state[cm.ROLE] and cm.ROOM not in at.query_params
    assert [b for b in at.button if b.key == "reveal"]  # on its own again


@pytest.mark.parametrize(
    "code, said",
    [
        ("ZZZZZ", "No class room has the code ZZZZZ"),
        ("X" * 10_000, "10,000 characters"),
        ("ab0o1", "is not a room code"),
    ],
)
def test_a_code_that_is_not_a_room_gets_words(code, said):
    by_link = lessons_app(room=code)
    assert_clean(by_link)
    assert said in notices(by_link) and not by_link.session_state[cm.ROLE]
    assert cm.ROOM not in by_link.query_params
    typed = lessons_app()
    typed.text_input(key=cm.JOIN).set_value(code[:12]).run()
    assert said[:10] in notices(typed) or "is not a room code" in notices(typed)


def test_a_full_room_says_so_and_seats_nobody_more():
    _, code = start_class()
    store = default_store()
    for _ in range(500):
        store.join(code, new_student())
    at = lessons_app(room=code)
    assert "is full (500 students)" in notices(at)
    assert store.state(code)["students"] == 500


def test_an_expired_or_ended_room_ends_class_mode_with_words(rooms):
    teacher, code = start_class()
    student = lessons_app(room=code)
    with sqlite3.connect(rooms) as db:
        db.execute("UPDATE rooms SET touched = touched - 4 * 3600 WHERE code = ?", (code,))
    student.run()
    assert_clean(student)
    assert "closed after 3 hours" in notices(student) and not student.session_state[cm.ROLE]

    teacher, code = start_class()
    student = lessons_app(room=code)
    teacher.button(key="class_end").click().run()
    assert cm.ROOM not in teacher.query_params
    student.run()
    assert f"The class {code} is over" in notices(student)


def test_a_forged_answer_never_reaches_the_room():
    steps = LESSONS[SLUG].steps
    choice = next(s.ask for s in steps if isinstance(s.ask, Choice) and not callable(s.ask.options))
    number = next(s.ask for s in steps if isinstance(s.ask, Number))
    options = list(choice.options)
    assert cm.check_answer(choice, options, options[0]) == options[0]
    for forged in ("not an option", "", None, options[0] + " "):
        with pytest.raises(ValueError, match="is not one of this step's choices"):
            cm.check_answer(choice, options, forged)
    assert cm.check_answer(number, [], number.low) == cm.encode(number, number.low)
    for forged in (number.high + 1, "nan", float("inf"), "3; DROP TABLE rooms", None):
        with pytest.raises(ValueError, match="is not an answer to this step"):
            cm.check_answer(number, [], forged)
