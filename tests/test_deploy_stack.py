"""`make classroom`'s stack in Chromium: Redis, two app servers and HAProxy on free loopback
ports. Ten sessions through the load balancer land on both replicas, a checkpoint upload
reaches its session's replica, a class room works with the teacher on r1 and the students on
r2, and killing r1 loses no session on r2 while r1's pages come back on r2 from their links."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from tests.browser import ARTIFACTS, ROOT, require_chromium, wait_idle
from tests.servers import require_stack

playwright = require_chromium()
expect = playwright.expect
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
SHOTS = ARTIFACTS / "deploy"
OPTIONS = ("Exactly 1, like a row", "Less than 1", "More than 1")  # attention-head, step 2
WAIT = 120_000  # ms: generous, the machine is shared (load average 25 on 2 cores seen)
TEXTAREA = "[data-testid='stSidebar'] textarea"
CHECKPOINT = ROOT / "assets" / "checkpoints" / "reverse.safetensors"
# Records every connection state the page goes through, with its time
WATCH = """() => {
    window.__states = [];
    const app = document.querySelector('[data-testid="stApp"]');
    const note = () => window.__states.push(
        [Date.now(), app.getAttribute('data-test-connection-state')]);
    note();
    new MutationObserver(note).observe(app, {attributes: true,
        attributeFilter: ['data-test-connection-state']});
}"""


@pytest.fixture(scope="module")
def lb(tmp_path_factory):
    from deploy.stack import stack

    require_stack()
    with stack(replicas=2, log_dir=tmp_path_factory.mktemp("stack")) as s:
        yield s


def srv(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == "SRV"), None)


def visit(browser, url: str, replica: str | None = None, width: int = 1024, height: int = 768):
    """A fresh context on url through the load balancer (pinned to `replica` by its cookie,
    set before the first request); checks the page came from the replica its cookie names."""
    context = browser.new_context(viewport={"width": width, "height": height})
    if replica:
        context.add_cookies([{"name": "SRV", "value": replica, "url": url}])
    page = context.new_page()
    response = page.goto(url)
    wait_idle(page)
    assert response.headers["x-replica"] == srv(context)
    assert replica in (None, srv(context))
    return context, page


@pytest.fixture(scope="module")
def crowd(lb, browser):
    """Ten sessions through the load balancer, each on the Encode page with its own sentence."""
    pages = [visit(browser, f"{lb.url}/?text={quote(f'Sentence number {i}.')}") for i in range(10)]
    yield pages
    for context, _ in pages:
        context.close()


def test_ten_sessions_land_on_both_replicas(lb, crowd):
    spread = [srv(context) for context, _ in crowd]
    print("sessions per replica:", {name: spread.count(name) for name in lb.names()})
    assert set(spread) == {"r1", "r2"}


def test_a_checkpoint_upload_goes_to_the_sessions_replica(lb, browser):
    for replica in ("r1", "r2"):
        context, page = visit(browser, f"{lb.url}/train", replica)
        with page.expect_response(
            lambda r: "/_stcore/upload_file/" in r.url and r.request.method == "PUT"
        ) as sent:
            page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
                str(CHECKPOINT)
            )
        assert sent.value.status == 204
        assert sent.value.headers["x-replica"] == replica
        expect(page.get_by_text("Loaded reverse.safetensors")).to_be_visible(timeout=60_000)
        context.close()


def panel(teacher, joined: int, answered: int):
    return teacher.get_by_text(re.compile(rf"{joined} joined · {answered} answered"))


def back_on(page, replica: str, since: float) -> float:
    """Seconds from `since` until the page's session is on `replica` again and idle."""
    deadline = time.monotonic() + 90
    while srv(page.context) != replica:
        assert time.monotonic() < deadline, f"still pinned to {srv(page.context)}"
        page.wait_for_timeout(100)
    wait_idle(page, 90_000)
    return time.monotonic() - since


def states(page) -> list[str]:
    return [state for _, state in page.evaluate("window.__states")]


def test_a_class_across_replicas_survives_killing_one(lb, browser, crowd):
    SHOTS.mkdir(parents=True, exist_ok=True)
    lesson = f"{lb.url}/lessons?lesson=attention-head&step=2&present=1"
    _, teacher = visit(browser, lesson, "r1", 1920, 1080)
    teacher.get_by_role("button", name="Start a class").click()
    expect(teacher.get_by_test_id("class-code")).to_be_visible(timeout=WAIT)
    code = teacher.get_by_test_id("class-code").inner_text()
    students = []
    for i in range(4):
        _, page = visit(browser, f"{lb.url}/lessons?room={code}", "r2", *((390, 844) if i else ()))
        expect(page.get_by_text(OPTIONS[0], exact=True)).to_be_visible(timeout=WAIT)
        students.append(page)
    for i, page in enumerate(students):
        page.get_by_text(OPTIONS[i % 3], exact=True).click()
        expect(page.get_by_text("Your answer is in")).to_be_visible(timeout=WAIT)
    expect(panel(teacher, 4, 4)).to_be_visible(timeout=WAIT)  # answers on r2 reach r1
    teacher.get_by_role("button", name="Reveal to everyone").click()
    for i, page in enumerate(students):  # the reveal on r1 reaches r2
        expect(page.get_by_text(f"You predicted “{OPTIONS[i % 3]}”")).to_be_visible(timeout=WAIT)

    on_r1 = [page for context, page in crowd if srv(context) == "r1"]
    typing = [page for context, page in crowd if srv(context) == "r2"]  # decided before the kill
    on_r2 = typing + students
    for page in [teacher, *on_r1, *on_r2]:
        page.evaluate(WATCH)
    killed, killed_ms = time.monotonic(), teacher.evaluate("Date.now()")
    lb.kill("r1")

    # every session on r2 goes on as if nothing happened: a new sentence goes through
    words = iter(("apple", "river", "garden", "window", "yellow", "orange", "silver", "cloud"))
    for page in typing:
        word = next(words)
        page.locator(TEXTAREA).fill(f"After the crash, a {word}.")
        page.locator(TEXTAREA).press("Control+Enter")
        page.wait_for_function(  # the tokens the server sent back for the new sentence
            '(w) => [...document.querySelectorAll(\'[data-testid="stMain"] '
            '[data-testid="stText"]\')].some((e) => e.innerText.includes(w))',
            arg=word,
            timeout=WAIT,
        )
        wait_idle(page)

    # r1's pages reconnect through the load balancer to r2, each from its own link
    recovered = {"teacher": back_on(teacher, "r2", killed)}
    expect(teacher.get_by_test_id("class-code")).to_have_text(code, timeout=WAIT)
    for page in on_r1:
        recovered[page.locator(TEXTAREA).input_value()] = back_on(page, "r2", killed)
    for page in on_r1:
        assert re.fullmatch(r"Sentence number \d\.", page.locator(TEXTAREA).input_value())
    seen = {state for page in [*on_r1, teacher] for state in states(page)}
    reconnected = [  # from each page's own record: when it was connected again
        (
            max(t for t, state in page.evaluate("window.__states") if state == "CONNECTED")
            - killed_ms
        )
        / 1000
        for page in [teacher, *on_r1]
    ]
    report = (
        f"r1 killed: {len(reconnected)} pages reconnected to r2 after "
        + ", ".join(f"{t:.1f}" for t in reconnected)
        + f" s; all idle (checked after typing on r2) by {max(recovered.values()):.1f} s;"
        + f" states seen: {', '.join(sorted(seen))}"
    )
    print(report)
    (SHOTS / "failover.txt").write_text(report + "\n")
    teacher.screenshot(path=str(SHOTS / "teacher_after_failover_1920.png"))
    if on_r1:
        on_r1[0].screenshot(path=str(SHOTS / "encode_after_failover_1024.png"))

    # the room lives in Redis: the teacher's panel on r2 has every answer and the reveal
    expect(panel(teacher, 4, 4)).to_be_visible(timeout=WAIT)
    expect(teacher.get_by_text(re.compile(r"1/4 right"))).to_be_visible(timeout=WAIT)
    for page in on_r2:  # not one of r2's sessions lost its connection
        assert set(states(page)) == {"CONNECTED"}, states(page)
    assert lb.states()["r1"].startswith("DOWN")

    # the teacher, now on r2, moves the class on: the click lands once the page is connected
    # and idle again (a widget clicked while its page reconnects is disabled and drops it)
    wait_idle(teacher, 90_000)
    teacher.get_by_role("button", name="Next").click()
    expect(teacher.get_by_text("step 3 of 6")).to_be_visible(timeout=60_000)
    for page in students:
        expect(page.get_by_text("step 3 of 6")).to_be_visible(timeout=60_000)
    students[0].screenshot(path=str(SHOTS / "student_after_failover_1024.png"))
    for page in [teacher, *students]:
        page.context.close()
