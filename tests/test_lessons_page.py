"""The Lessons page in AppTest: every step of every lesson, predict -> reveal, links, score.

Each step opens from its link at its question (no answer, Reveal disabled, the prediction
widget empty); a prediction enables Reveal; the reveal shows what the model computed live (the
same words as the step's own reveal function) and a verdict; "try yours" reveals follow the
learner's sentences.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.lessons import LESSONS
from app.lessons.base import Choice, Ctx, Number
from tests.test_app import MAIN, assert_clean

STEPS = [(slug, n) for slug, lesson in LESSONS.items() for n in range(1, len(lesson.steps) + 1)]
MODEL_DID = "**What the model did.**"
OTHER_SENTENCES = "The river bank was muddy after the storm.\nThe bank raised its rates again."


def lessons_app(**params: str) -> AppTest:
    """The Lessons page, opened from a link with ``params`` in a fresh session."""
    at = AppTest.from_file(MAIN, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("views/lessons.py")
    return at.run()


def predict_widget(at: AppTest):
    for kind in ("radio", "selectbox", "number_input", "button_group"):
        found = [w for w in at.get(kind) if getattr(w, "key", None) == "predict"]
        if found:
            return found[0]
    raise AssertionError("no widget with key 'predict'")


def ctx_of(at: AppTest, slug: str) -> Ctx:
    """The learner's sentences for a lesson, as the page reads them."""
    from app.lessons import session as ls

    return Ctx(tuple(ls.state.split_sentences(at.session_state[ls.TEXTS][slug])[0]))


def a_prediction(step, ctx: Ctx) -> object:
    """Some prediction a learner could make (not necessarily right)."""
    if isinstance(step.ask, Number):
        return type(step.ask.low)(step.ask.low)
    return step.ask.choices(ctx)[-1]


def model_did(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith(MODEL_DID)]


def verdicts(at: AppTest) -> list[str]:
    return [e.value for e in (*at.success, *at.warning) if "You predicted" in e.value]


def commit(at: AppTest, value: object) -> AppTest:
    widget = predict_widget(at)
    widget.set_value(value).run()
    assert not at.button(key="reveal").disabled, "a prediction must enable Reveal"
    at.button(key="reveal").click().run()
    assert_clean(at)
    return at


def test_there_are_seven_lessons_of_five_to_eight_steps_covering_every_page():
    assert len(LESSONS) >= 7
    for slug, lesson in LESSONS.items():
        assert 5 <= len(lesson.steps) <= 8, slug
        assert any(step.yours for step in lesson.steps), f"{slug} has no 'try yours' step"
        for step in lesson.steps:
            assert step.question.strip() and step.title.strip()
    pages = {step.page for lesson in LESSONS.values() for step in lesson.steps}
    assert {"home", "attention", "positions", "layer-by-layer", "padding", "inside-a-layer",
            "train"} <= pages  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("slug", "n"), STEPS)
def test_every_step_opens_at_its_question_and_reveals_live_numbers(slug, n):
    at = lessons_app(lesson=slug, step=str(n))
    assert_clean(at)
    step = LESSONS[slug].steps[n - 1]
    assert predict_widget(at).value is None, "the prediction widget starts empty"
    assert at.button(key="reveal").disabled, "Reveal is disabled before a prediction"
    assert not model_did(at) and not verdicts(at), "nothing is revealed before a prediction"
    assert any(step.question.strip() in m.value for m in at.markdown)

    ctx = ctx_of(at, slug)
    guess = a_prediction(step, ctx)
    commit(at, guess)
    expected = step.reveal(ctx)  # the same function, called directly: the page shows its words
    assert model_did(at) == [f"{MODEL_DID} {expected.said}"]
    assert len(verdicts(at)) == 1
    assert at.button(key="reveal").disabled, "a committed prediction is for good"
    assert predict_widget(at).disabled
    assert dict(at.query_params)["lesson"] == slug and dict(at.query_params)["step"] == str(n)


@pytest.mark.slow
@pytest.mark.parametrize("slug", list(LESSONS))
def test_try_yours_follows_the_learners_sentences(slug):
    lesson = LESSONS[slug]
    n = next(i for i, step in enumerate(lesson.steps, 1) if step.yours)
    step = lesson.steps[n - 1]
    at = lessons_app(lesson=slug, step=str(n))
    commit(at, a_prediction(step, ctx_of(at, slug)))
    before = model_did(at)
    digits = lesson.yours and set(lesson.yours) <= set("0123456789 \n")  # a digits task
    other = "7 2 9 4\n5 5 1 0" if digits else OTHER_SENTENCES
    at.text_area(key="yours").set_value(other).run()
    assert_clean(at)
    after = model_did(at)
    assert after and after != before, "the 'try yours' reveal must follow the new sentences"


def test_a_link_never_opens_at_an_answer_and_predictions_stay_out_of_it():
    slug = next(iter(LESSONS))
    at = lessons_app(lesson=slug, step="1")
    step = LESSONS[slug].steps[0]
    commit(at, a_prediction(step, ctx_of(at, slug)))
    query = dict(at.query_params)
    assert set(query) <= {"lesson", "step", "present", "text"}
    again = lessons_app(**query)  # the same link in a fresh session: at the question
    assert not model_did(again) and again.button(key="reveal").disabled


def test_back_and_next_keep_the_sessions_predictions():
    slug = next(iter(LESSONS))
    at = lessons_app(lesson=slug, step="1")
    first = LESSONS[slug].steps[0]
    guess = a_prediction(first, ctx_of(at, slug))
    commit(at, guess)
    at.button(key="next").click().run()
    assert at.session_state["step"] == 2 and predict_widget(at).value is None
    assert not model_did(at)
    at.button(key="back").click().run()
    assert predict_widget(at).value == guess and model_did(at)
    assert at.button(key="back").disabled  # step 1


def test_the_last_step_shows_the_score_and_what_next():
    slug = next(iter(LESSONS))
    lesson = LESSONS[slug]
    at = lessons_app(lesson=slug, step=str(len(lesson.steps)))
    commit(at, a_prediction(lesson.steps[-1], ctx_of(at, slug)))
    heads = [h.value for h in at.subheader]
    assert any(h.endswith(f"of {len(lesson.steps)} predictions right") for h in heads), heads
    assert any(lesson.next_up.strip() in m.value for m in at.markdown)
    assert at.button(key="next").label == "Next lesson"
    at.button(key="next").click().run()
    assert at.session_state["lesson"] == list(LESSONS)[1] and at.session_state["step"] == 1


def test_coming_back_from_another_page_keeps_the_lesson_the_picker_and_presenter_mode():
    slugs = list(LESSONS)
    at = lessons_app(lesson=slugs[2], step="2", present="1")
    at.switch_page("views/encode.py").run()
    at.switch_page("views/lessons.py").run()
    assert_clean(at)
    assert at.selectbox(key="lesson_pick").value == slugs[2], "the picker names the lesson"
    assert at.session_state["step"] == 2 and at.toggle(key="present").value is True
    at.toggle(key="present").set_value(False).run()
    at.switch_page("views/encode.py").run()
    at.switch_page("views/lessons.py").run()
    assert at.toggle(key="present").value is False


def test_the_picker_opens_a_lesson_at_its_first_step():
    slugs = list(LESSONS)
    at = lessons_app(lesson=slugs[0], step="3")
    at.selectbox(key="lesson_pick").set_value(slugs[2]).run()
    assert_clean(at)
    assert (at.session_state["lesson"], at.session_state["step"]) == (slugs[2], 1)
    assert dict(at.query_params)["lesson"] == slugs[2]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"lesson": "no-such-lesson"}, "There is no lesson “no\\-such\\-lesson”"),
        ({"step": "99"}, "step = “99” is not a step of this lesson"),
        ({"step": "inf"}, "step = “inf” is not a step"),
        ({"step": "1e400"}, "step = “1e400” is not a step"),
        ({"step": "-1"}, "step = “\\-1” is not a step"),
    ],
)
def test_bad_lesson_links_say_what_opens_instead(params, words):
    at = lessons_app(**params)
    assert_clean(at)
    said = " ".join(w.value for w in at.warning)
    assert words in said, said
    assert at.session_state["step"] == 1


def test_presenter_mode_from_the_link():
    slug = next(iter(LESSONS))
    at = lessons_app(lesson=slug, step="2", present="1")
    assert_clean(at)
    assert at.toggle(key="present").value is True
    assert not [t for t in at.title if t.value == "Lessons"], "presenter mode drops the title"
    at.toggle(key="present").set_value(False).run()
    assert "present" not in dict(at.query_params) or dict(at.query_params)["present"] != "1"


def test_number_predictions_are_judged_within_their_tolerance():
    from app.lessons.base import right

    ask = Number(0, 10, 0.1, tolerance=0.5)
    assert right(ask, 3.4, 3.0) and right(ask, 3.5, 3.0) and not right(ask, 3.6, 3.0)
    assert not right(ask, None, 3.0)
    pick = Choice(("a", "b", "c"))
    assert right(pick, "b", ("a", "b")) and not right(pick, "c", ("a", "b"))
