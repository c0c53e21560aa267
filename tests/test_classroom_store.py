"""The class-room store on both backends, each a real server: a SQLite file in a temp folder and
Debian's redis-server on a free port. Same tests, same interface (app.classroom.open_store)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from app.classroom import open_store
from app.classroom.base import new_student
from tests.servers import redis_server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def make(request, tmp_path):
    """make(**limits) -> a Store on this test's backend; every call is another app server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/rooms.db"
    else:
        url = request.getfixturevalue("redis_url")
    return lambda **limits: open_store(url, **limits)


def seated(store, code, n):
    students = [new_student() for _ in range(n)]
    for s in students:
        store.join(code, s)
    return students


def test_a_lesson_step_from_join_to_reveal(make):
    store = make()
    code = store.create_room("attention-head")
    assert len(code) == 5 and code.isalnum() and code.isupper()
    assert store.state(code) == dict(
        lesson="attention-head", step=1, revealed=False, students=0, answered=0, text=""
    )
    a, b, c = seated(store, code, 3)
    store.join(code, a)  # a reload joins again: still three
    store.answer(code, 1, a, "it")
    store.answer(code, 1, b, "cat")
    store.answer(code, 1, c, "cat")
    store.answer(code, 1, a, "cat")  # a later answer replaces the earlier one
    assert store.tally(code, 1) == {"cat": 3}
    assert store.answer_of(code, 1, a) == "cat"
    assert store.answer_of(code, 2, a) is None
    assert store.state(code)["students"] == 3
    assert store.state(code)["answered"] == 3
    store.set_step(code, 1, revealed=True)
    assert store.state(code)["revealed"] is True
    store.set_step(code, 2, revealed=False)
    state = store.state(code)
    assert (state["step"], state["revealed"], state["answered"]) == (2, False, 0)
    assert store.tally(code, 2) == {}
    assert store.tally(code, 1) == {"cat": 3}  # step 1's answers are kept
    # a code is typed as it comes: lower case, spaces and a dash
    assert store.state(f" {code[:2].lower()}-{code[2:]} ")["step"] == 2


def test_200_students_answering_at_once_give_an_exact_tally(make):
    store = make()
    code = store.create_room("attention-head")
    students = seated(store, code, 200)
    options = ["the", "cat", "sat", "it"]
    final = {s: options[i % 4] for i, s in enumerate(students)}
    start = threading.Barrier(200)
    errors: list[BaseException] = []

    def student(s: str, i: int) -> None:
        try:
            mine = make()  # another connection, as on another app server
            start.wait()
            mine.answer(code, 1, s, options[(i + 1) % 4])  # changed their mind...
            mine.answer(code, 1, s, final[s])  # ...to this
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=student, args=(s, i)) for i, s in enumerate(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.tally(code, 1) == dict(Counter(final.values())) == {o: 50 for o in options}
    assert store.state(code)["answered"] == 200


def test_a_room_expires_after_its_time_without_activity(make):
    store = make(ttl=1.0)
    code = store.create_room("positions")
    (s,) = seated(store, code, 1)
    time.sleep(0.6)
    store.answer(code, 1, s, "3")  # a write keeps the room open
    time.sleep(0.6)
    assert store.state(code)["answered"] == 1
    time.sleep(1.2)
    for call in (
        lambda: store.state(code),
        lambda: store.join(code, new_student()),
        lambda: store.answer(code, 1, s, "4"),
        lambda: store.tally(code, 1),
        lambda: store.set_step(code, 2, False),
    ):
        with pytest.raises(ValueError, match=f"{code} closed after"):
            call()


def test_bad_input_gets_a_clear_message_and_changes_nothing(make):
    store = make(max_students=3)
    code = store.create_room("padding-mask")
    a, b, c = seated(store, code, 3)
    store.answer(code, 1, a, "yes")
    before = (store.state(code), store.tally(code, 1))
    stranger = new_student()
    cases = [
        (lambda: store.state("ZZZZZ"), "No class room has the code ZZZZZ"),
        (lambda: store.join("ZZZZZ", stranger), "No class room has the code"),
        (lambda: store.join("X" * 10_000, stranger), "10,000 characters"),
        (lambda: store.join("AB0O1", stranger), "is not a room code"),
        (lambda: store.join(code, stranger), "is full \\(3 students\\)"),
        (lambda: store.answer(code, 1, stranger, "yes"), "has not joined"),
        (lambda: store.answer(code, 2, b, "yes"), "at step 1 now"),
        (lambda: store.answer(code, 1, b, "x" * 201), "is not an answer"),
        (lambda: store.answer(code, 1, b, ""), "empty"),
        (lambda: store.answer(code, 1, b, 3), "empty"),
        (lambda: store.answer(code, 0, b, "yes"), "whole number from 1"),
        (lambda: store.answer(code, 1, "me", "yes"), "is not a student id"),
        (lambda: store.create_room("../etc"), "is not a lesson"),
        (lambda: store.set_text(code, "x" * 50_001), "at most 50,000"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    store.join(code, c)  # a seated student comes back to a full room
    assert (store.state(code), store.tally(code, 1)) == before
    store.set_step(code, 1, revealed=True)
    with pytest.raises(ValueError, match="answers to it are closed"):
        store.answer(code, 1, b, "no")
    assert store.tally(code, 1) == {"yes": 1}


def test_the_reveal_and_the_next_step_reach_every_student(make):
    teacher = make()
    code = teacher.create_room("attention-head")
    servers = [make() for _ in range(5)]  # each student's page on its own app server
    students = [new_student() for _ in servers]
    for server, s in zip(servers, students, strict=True):
        server.join(code, s)
    teacher.set_step(code, 1, revealed=True)
    assert all(server.state(code)["revealed"] for server in servers)
    teacher.set_step(code, 2, revealed=False)
    seen = [server.state(code) for server in servers]
    assert [(st["step"], st["revealed"], st["students"]) for st in seen] == [(2, False, 5)] * 5


def test_a_student_answering_too_fast_is_slowed_not_refused(make):
    store = make(rate=10.0, burst=3)
    code = store.create_room("attention-head")
    (s,) = seated(store, code, 1)
    start = time.monotonic()
    for i in range(13):
        store.answer(code, 1, s, str(i))
    took = time.monotonic() - start
    assert took >= 0.9  # 3 at once, then 10 more at 10 a second
    assert store.tally(code, 1) == {"12": 1}


def test_the_teacher_token_the_sentences_and_the_end_of_a_class(make):
    store = make()
    code = store.create_room("text-to-tensors")
    store.set_teacher(code, "secret-token")
    assert store.is_teacher(code, "secret-token")
    assert not store.is_teacher(code, "guess")
    store.set_text(code, "The cat sat.\nIt was tired.")
    assert make().state(code)["text"] == "The cat sat.\nIt was tired."
    store.close(code)
    with pytest.raises(ValueError, match="No class room"):
        store.state(code)


def test_a_sqlite_room_survives_a_restart_of_the_app_server(tmp_path):
    url = f"sqlite:///{tmp_path}/rooms.db"
    first = open_store(url)
    code = first.create_room("positions")
    (s,) = seated(first, code, 1)
    first.answer(code, 1, s, "4")
    first.set_step(code, 1, True)
    del first
    again = open_store(f"sqlite:///{tmp_path}//rooms.db")  # SQLAlchemy's spelling: same file
    assert again.state(code)["revealed"] is True
    assert again.tally(code, 1) == {"4": 1}


@pytest.mark.parametrize(
    "url, message",
    [
        ("postgres://x/y", "neither sqlite"),
        ("sqlite:///", "names no file"),
        ("sqlite:////tmp/", "names no file"),
        (None, "is a string"),
    ],
)
def test_a_store_address_that_is_not_one(url, message):
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_a_redis_that_cannot_be_reached_says_where():
    from tests.browser import free_port

    store = open_store(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ConnectionError, match="cannot be reached"):
        store.create_room("positions")
