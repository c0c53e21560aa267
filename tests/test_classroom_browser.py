"""Class mode in Chromium: a teacher on a projector and ten students on their own devices, one
real app server and a real SQLite store. Answers reach the teacher's screen, the reveal and the
next step reach every student, a reloaded student keeps room and answer, and a restart of the
app server mid-lesson loses nothing."""

from __future__ import annotations

import re

import pytest

from tests.browser import (
    ARTIFACTS,
    free_port,
    open_page,
    require_chromium,
    streamlit_server,
    wait_idle,
)

playwright = require_chromium()
expect = playwright.expect
pytestmark = pytest.mark.timeout(900)
SHOTS = ARTIFACTS / "classroom"
OPTIONS = ("Exactly 1, like a row", "Less than 1", "More than 1")  # attention-head, step 2
STUDENTS = 10
GONE = "[data-testid='stApp']:not([data-test-connection-state='CONNECTED'])"
WAIT = 30_000  # ms: what a check waits at most (the watcher itself polls every second)
# Records, in each student's page, when the model's answer first appears in it
OBSERVE = """() => {
    window.__revealed = null;
    new MutationObserver(() => {
        if (window.__revealed === null && document.body.innerText.includes("the model's answer"))
            window.__revealed = Date.now();
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    rooms = tmp_path_factory.mktemp("rooms") / "rooms.db"
    return {"ENCODER_EXPLORER_STORE": f"sqlite:///{rooms}"}


@pytest.fixture(scope="module")
def server(env):
    with streamlit_server(env=env) as url:
        yield url


def start_class(browser, url: str, width: int = 1920, height: int = 1080):
    ctx, teacher = open_page(
        browser, f"{url}/lessons?lesson=attention-head&step=2&present=1", width, height
    )
    teacher.get_by_role("button", name="Start a class").click()
    code = teacher.get_by_test_id("class-code")
    expect(code).to_be_visible(timeout=WAIT)
    return ctx, teacher, code.inner_text()


def join(browser, url: str, code: str, i: int):
    width, height = (390, 844) if i % 2 else (1024, 768)  # phones and laptops
    ctx, page = open_page(browser, f"{url}/lessons?room={code}", width, height)
    expect(page.get_by_text(OPTIONS[0], exact=True)).to_be_visible(timeout=WAIT)
    return ctx, page


def answer(page, option: str) -> None:
    page.get_by_text(option, exact=True).click()
    expect(page.get_by_text("Your answer is in")).to_be_visible(timeout=WAIT)


def panel(teacher, joined: int, answered: int):
    return teacher.get_by_text(re.compile(rf"{joined} joined · {answered} answered"))


def test_ten_students_answer_the_teacher_reveals_and_moves_on(server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    contexts = []
    tctx, teacher, code = start_class(browser, server)
    students = []
    for i in range(STUDENTS):
        ctx, page = join(browser, server, code, i)
        contexts.append(ctx)
        students.append(page)
    for i, page in enumerate(students):
        answer(page, OPTIONS[i % 3])
    expect(panel(teacher, STUDENTS, STUDENTS)).to_be_visible(timeout=WAIT)
    teacher.wait_for_timeout(1_000)  # the chart's bars follow the count in the same fragment run
    teacher.screenshot(path=str(SHOTS / "teacher_1920_answers.png"))

    # a student reloads before the reveal: same room, same seat, the same answer picked
    students[1].reload()
    wait_idle(students[1])
    expect(students[1].get_by_role("radio", name=OPTIONS[1])).to_be_checked(timeout=WAIT)
    expect(panel(teacher, STUDENTS, STUDENTS)).to_be_visible(timeout=WAIT)

    for page in students:
        page.evaluate(OBSERVE)
    clicked = teacher.evaluate("Date.now()")
    teacher.get_by_role("button", name="Reveal to everyone").click()
    delays = []
    for page in students:
        page.wait_for_function("window.__revealed !== null", timeout=WAIT)
        delays.append((page.evaluate("window.__revealed") - clicked) / 1000)
    report = f"reveal reached {STUDENTS} students after " + ", ".join(f"{d:.2f}" for d in delays)
    print(f"{report} s (max {max(delays):.2f} s)")
    (SHOTS / "reveal_delays.txt").write_text(f"{report} s\n")
    for i, page in enumerate(students):
        expect(page.get_by_text(f"You predicted “{OPTIONS[i % 3]}”")).to_be_visible(timeout=WAIT)
    students[0].wait_for_timeout(2_500)  # the watcher runs twice more: the verdicts stay
    for i, page in enumerate(students):
        expect(page.get_by_text(f"You predicted “{OPTIONS[i % 3]}”")).to_be_visible()
    expect(teacher.get_by_text(re.compile(r"/10 right"))).to_be_visible(timeout=WAIT)
    teacher.wait_for_timeout(1_000)
    teacher.screenshot(path=str(SHOTS / "teacher_1920_revealed.png"))
    students[0].screenshot(path=str(SHOTS / "student_1024_revealed.png"))
    students[1].screenshot(path=str(SHOTS / "student_phone_revealed.png"))
    teacher.set_viewport_size({"width": 1024, "height": 768})
    teacher.wait_for_timeout(1_500)
    teacher.screenshot(path=str(SHOTS / "teacher_1024_revealed.png"))

    teacher.get_by_role("button", name="Next").click()
    for page in students:
        expect(page.get_by_text("step 3 of 6")).to_be_visible(timeout=WAIT)
    expect(panel(teacher, STUDENTS, 0)).to_be_visible(timeout=WAIT)
    for ctx in (tctx, *contexts):
        ctx.close()


def test_a_restart_of_the_app_server_mid_lesson_loses_nothing(env, browser):
    port = free_port()
    with streamlit_server(port=port, env=env) as url:
        tctx, teacher, code = start_class(browser, url, 1024, 768)
        pages = [join(browser, url, code, i) for i in range(2)]
        for (_, page), option in zip(pages, OPTIONS, strict=False):
            answer(page, option)
        expect(panel(teacher, 2, 2)).to_be_visible(timeout=WAIT)
    everyone = [teacher, *(page for _, page in pages)]
    for page in everyone:  # each page has seen its server go (the DOM it shows is the old one)
        page.wait_for_selector(GONE, timeout=WAIT)
    with streamlit_server(port=port, env=env) as url:
        for page in everyone:  # each reconnects by itself, a new session from its address
            wait_idle(page, timeout=90_000)
        _, late = join(browser, url, code, 2)  # the room is there, in the store, for a newcomer
        expect(panel(teacher, 3, 2)).to_be_visible(timeout=WAIT)  # the teacher's panel is live
        for (_, page), option in zip(pages, OPTIONS, strict=False):
            expect(page.get_by_role("radio", name=option)).to_be_checked(timeout=WAIT)
        teacher.get_by_role("button", name="Reveal to everyone").click()
        for (_, page), option in zip(pages, OPTIONS, strict=False):
            expect(page.get_by_text(f"You predicted “{option}”")).to_be_visible(timeout=WAIT)
        expect(late.get_by_text("You did not answer this step")).to_be_visible(timeout=WAIT)
        for ctx in (tctx, late.context, *(c for c, _ in pages)):
            ctx.close()
