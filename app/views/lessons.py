"""Lessons: predict, then see what the model does, one step at a time, for a student alone or
a teacher at a projector (presenter mode). The lessons are data (app/lessons); this page only
draws a step, its prediction widget and, once a prediction is committed, the live answer."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from app import state, ui
from app.charts.qr import qr_png
from app.charts.tables import table_panel
from app.components.attention_canvas import attention_canvas
from app.lessons import LESSONS
from app.lessons import classmode as cm
from app.lessons import session as ls
from app.lessons.base import Choice, Number, Reveal, Shown, say
from app.views import lessons_class as lc

PRESENT_CSS = """<style>
[data-testid="stMain"] .block-container { padding-top: 3.6rem; padding-bottom: 1rem; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] [data-testid="stWidgetLabel"] p,
[data-testid="stMain"] input, [data-testid="stMain"] textarea,
[data-testid="stMain"] [data-testid="stAlertContentSuccess"] p,
[data-testid="stMain"] [data-testid="stAlertContentWarning"] p {
    font-size: 22px; line-height: 1.35;
}
[data-testid="stMain"] h3 { font-size: 30px; padding: 0 0 0.4rem 0; }
[data-testid="stMain"] button p { font-size: 20px; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 18px; }
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.6rem; }
</style>"""
LABEL = {False: "visible", True: "collapsed"}  # the prediction's label: a projector has no room
FIGURE_HEIGHT = {False: 380, True: 290}  # px: a projector shows one step on one screen

problems = ls.follow_link() + cm.follow_link()
room = cm.sync()  # in a class: the room's lesson, step and reveal (a student follows them)
teacher = room is not None and cm.role() == cm.TEACHER
pupil = room is not None and not teacher
ls.keep_widgets()  # back from another page: the picker and the switch as they were
present = bool(st.session_state.get(ls.PRESENT))
if present:
    st.set_page_config(initial_sidebar_state="collapsed")
    st.html(PRESENT_CSS)
slug, n = st.session_state[ls.LESSON], st.session_state[ls.STEP]
lesson = LESSONS[slug]
steps = len(lesson.steps)
step = lesson.steps[n - 1]
ls.write_link(slug, n, present)
cm.write_link()

if problems:
    st.warning("This link could not be followed exactly:\n" + "\n".join(f"- {p}" for p in problems))
if said := cm.take_notice():
    st.warning(said, icon=":material/groups:")
if pupil:
    st.subheader(f"Class {cm.code()}")
elif not present:
    st.title("Lessons")
    st.caption(
        "Predict first, then let the model show you. Every answer is computed live by the "
        "model; each lesson runs its own model, so everyone in a room sees the same numbers "
        "(the sidebar's model is kept for the other pages)."
    )
# on a projector: the lesson, the switch, the class, the QR code, in one row at 1024 px
bar = st.columns([2.3, 1.55, 1.35, 0.5] if present else [3, 2], vertical_alignment="center")
with bar[0]:
    st.selectbox(
        "Lesson",
        list(LESSONS),
        format_func=ls.title_of,
        key=ls.PICK,
        on_change=ls.pick,
        label_visibility="collapsed" if present else "visible",
        disabled=room is not None,
        help="The class follows this lesson: end the class to change it." if teacher else None,
    )
with bar[1]:
    if pupil:
        st.button("Leave the class", key="class_leave", on_click=cm.leave, icon=":material/logout:")
    else:
        st.toggle(
            "Presenter mode",
            key=ls.PRESENT,
            on_change=ls.keep_present,
            help="For a projector: larger type, one step per screen, ← and → for the steps, and "
            "a QR code (top right) so the class can follow on their own devices.",
        )
if teacher:  # the class's code, its QR code and its end, in one button
    lc.class_popover(bar[2] if present else bar[1], st.context.url)
elif present:
    bar[2].button(
        "Start a class",
        key="class_start",
        icon=":material/groups:",
        on_click=cm.start,
        args=(slug, n),
        help="Students join with a code or the QR code, answer on their own devices, "
        "and see the answer when you reveal it.",
    )
if present and st.context.url:  # students follow on their own devices (not in presenter mode)
    base = st.context.url.rstrip("/")
    if teacher:  # the class's join link; else this step's, to follow on one's own device
        follow = cm.join_link(base)
    else:
        follow = f"{base}/lessons?{urlencode(ls.link_query(slug, n, False))}"
    bar[3].image(qr_png(follow), width=76)
if room is None and not present:
    lc.join_box()
progress = st.empty()  # drawn last, with this step's verdict counted
if not present and n == 1:
    st.markdown(f"*{lesson.summary}*")

ctx = ls.ctx(lesson)
done = ls.committed(slug, n)
if pupil:  # a student's answer is the room's; it shows once the teacher reveals
    done = cm.decode(step.ask, room.get("mine"))
revealed = room["revealed"] if room else done is not None
if present:  # the question and the answer on the left, the chart and why on the right
    main, side = st.columns([3, 2], gap="medium")
    foot = side  # the links under the chart
else:  # the question, its charts (at most 1000 px wide: a heatmap is not a banner), the rest
    main, side, foot = st.container(), st.container(width=1000), st.container()


def name(fig, i: int) -> str:
    """A figure's tab name: layout.meta["name"], else its title, else "Chart 2"."""
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    return meta.get("name") or fig.layout.title.text or f"Chart {i + 1}"


def draw(shown: Shown | Reveal, prefix: str) -> None:
    """A step's figures and table: one under the other on a screen, in tabs on a projector
    (one screen, nothing to scroll)."""
    figures = list(shown.figures)
    names = [name(fig, i) for i, fig in enumerate(figures)]
    table = shown.table is not None
    if present and len(figures) + table > 1:
        slots = st.tabs([*names, *(["Numbers"] if table else [])])
    else:  # one under the other: side by side, a 1024 px screen squeezed their labels together
        slots = [st.container() for _ in range(len(figures) + table)]
    for i, (slot, fig) in enumerate(zip(slots, figures, strict=False)):
        fig.update_layout(height=min(fig.layout.height or 10_000, FIGURE_HEIGHT[present]))
        with slot:
            ui.plotly_chart(fig, key=f"{prefix}_{slug}_{n}_{i}")
    if table:
        with slots[-1]:
            rows = len(shown.table)
            tall = present and rows > 6  # the rows past one screen scroll inside
            panel = table_panel(shown.table, height=300 if tall else 0, file=f"{slug}_{n}")
            summary = f"Numbers of this step: {rows} rows"
            attention_canvas([panel], key=f"{prefix}_{slug}_{n}_table", summary=summary)


def predict_widget(ask, options: list[str], disabled: bool, on_change=None) -> object:
    """The step's one prediction widget, key ``predict``: empty until the learner answers.
    In a class, ``on_change`` posts each answer to the room."""
    hooks = dict(on_change=on_change, args=(ask, options, n)) if on_change else {}
    if isinstance(ask, Number):
        kind = int if ask.whole else float
        return st.number_input(
            ask.label,
            min_value=kind(ask.low),
            max_value=kind(ask.high),
            step=kind(ask.step),
            value=None,
            placeholder="Type a number",
            key=ls.PREDICT,
            disabled=disabled,
            width=260,
            **hooks,
            label_visibility=LABEL[present],
        )
    if not options:
        st.info("Type a sentence above: the choices come from your words.")
        return None
    if st.session_state.get(ls.PREDICT) not in [None, *options]:  # the sentences changed
        st.session_state.pop(ls.PREDICT)
    if ask.widget == "selectbox":
        return st.selectbox(
            ask.label, options, index=None, placeholder="Choose…", key=ls.PREDICT,
            disabled=disabled, width=480, label_visibility=LABEL[present], **hooks,
        )  # fmt: skip
    if ask.widget == "pills":
        return st.pills(
            ask.label, options, key=ls.PREDICT, disabled=disabled,
            label_visibility=LABEL[present], **hooks,
        )  # fmt: skip
    if ask.widget == "segmented":
        return st.segmented_control(
            ask.label, options, key=ls.PREDICT, disabled=disabled,
            label_visibility=LABEL[present], **hooks,
        )  # fmt: skip
    return st.radio(
        ask.label, options, index=None, horizontal=True, key=ls.PREDICT, disabled=disabled,
        label_visibility=LABEL[present], **hooks,
    )  # fmt: skip


with main:
    st.markdown(step.question)
    if step.yours:
        if ls.YOURS not in st.session_state:  # the box was not on the last screen
            st.session_state[ls.YOURS] = ls.text(slug)
        st.text_area(
            "Your sentences, one per line (now try yours)",
            key=ls.YOURS,
            height=76 if present else 110,
            max_chars=5_000,
            on_change=cm.share_text if teacher else ls.keep_text,
            args=(slug,),
            disabled=pupil,  # a class runs on the teacher's sentences
        )
        if not ctx.sentences:
            st.info("Type a sentence above: this step runs the model on yours.")
    ready = ctx.sentences or not step.yours
    shown = None
    if step.show is not None and ready:
        try:
            shown = step.show(ctx)
        except ValueError as err:
            st.error(f"Could not show this step on these sentences: {err}")
        if shown is not None and shown.text and not (present and revealed):
            st.markdown(shown.text)
    options = list(step.ask.choices(ctx)) if isinstance(step.ask, Choice) else []
    if options and done is not None and done not in options:  # the sentences changed since
        st.markdown(f"**Your prediction:** {say(step.ask, done)}")
    panel = st.container()  # the teacher's live panel, drawn once the answer is known
    if not teacher:
        prediction = predict_widget(
            step.ask, options, disabled=revealed, on_change=cm.post if pupil else None
        )
    if pupil:
        lc.student_status(room)
        lc.watch()
    else:  # Back, Reveal, Next (in a class, the teacher's move and reveal for everyone)
        buttons = st.container(horizontal=True)
        move = cm.move if teacher else ls.go  # a teacher's Back and Next move the whole class
        buttons.button(
            "Back",
            key="back",
            icon=":material/arrow_back:",
            shortcut="Left",
            disabled=n == 1,
            on_click=move,
            args=(slug, n - 1),
        )
        buttons.button(
            "Reveal to everyone" if teacher else "Reveal",
            key=ls.REVEAL,
            type="primary",
            icon=":material/visibility:",
            disabled=revealed or not ready or (not teacher and prediction is None),
            on_click=cm.reveal_all if teacher else ls.commit,
            args=(slug, n),
        )
        later = list(LESSONS)[list(LESSONS).index(slug) + 1 :]
        if n < steps:
            buttons.button(
                "Next", key="next", icon=":material/arrow_forward:", icon_position="right",
                shortcut="Right", on_click=move, args=(slug, n + 1),
            )  # fmt: skip
        elif later and room is None:
            buttons.button(
                "Next lesson", key="next", icon=":material/arrow_forward:", icon_position="right",
                shortcut="Right", on_click=ls.go, args=(later[0], 1),
            )  # fmt: skip

reveal = None
if revealed and ready:
    with main:
        try:
            with st.spinner("The model is working it out…", show_time=True):
                reveal = step.reveal(ctx)
        except ValueError as err:
            st.error(f"Could not compute the answer on these sentences: {err}")
    if reveal is not None:
        margin = ""
        if isinstance(step.ask, Number) and step.ask.tolerance:
            margin = f" (right within ±{step.ask.say(step.ask.tolerance)})"
        with main:
            if teacher:
                st.info(f"**The model's answer is {say(step.ask, reveal.answer)}**{margin}.")
            elif done is None:  # a student who did not answer before the reveal
                said = say(step.ask, reveal.answer)
                st.info(f"You did not answer this step; the model's answer is {said}.")
            else:
                ok = ls.record(slug, n, step.ask, done, reveal.answer)
                verdict = st.success if ok else st.warning
                verdict(
                    f"**{'Right' if ok else 'Not quite'}.** You predicted {say(step.ask, done)}; "
                    f"the model's answer is {say(step.ask, reveal.answer)}{margin}.",
                    icon=":material/check_circle:" if ok else ":material/lightbulb:",
                )
            st.markdown(f"**What the model did.** {reveal.said}")
            if not present:
                st.markdown(f"**Why.** {reveal.why}")

if teacher:  # live: who joined, who answered, how (and after the reveal, who was right)
    with panel:
        answer = reveal.answer if reveal is not None else None
        lc.teacher_panel(n, step.ask, options, answer, present)

with side:
    if reveal is not None:
        draw(reveal, "reveal")
    elif shown is not None:
        draw(shown, "shown")

with foot:
    title = state.PAGE_TABLE[step.page][1]
    links = st.container(horizontal=True)
    links.link_button(  # on a projector's narrow column, the short label
        f"Open {title}" if present else f"Open this on the {title} page",
        step.link(ctx),
        icon=":material/open_in_new:",
    )  # a new tab, set up as the step describes (no tooltip: it covered Reveal)
    if present and reveal is not None:  # on a projector the why opens over the page
        with links.popover("Why?", icon=":material/help:"):
            st.markdown(reveal.why)
    if n == steps and done is not None:
        right_n, judged_n, total = ls.score(slug)
        score = f"{right_n} of {total} predictions right"
        skipped = "" if judged_n == total else (
            f"{ui.count(total - judged_n, 'step')} without a prediction: Back to try them."
        )  # fmt: skip
        if present:  # the score in the progress line; what next opens over the page
            with links.popover("What next?", icon=":material/flag:"):
                st.markdown(f"**{score}.** {skipped}\n\n{lesson.next_up}")
        else:
            st.subheader(score)
            if skipped:
                st.caption(skipped)
            st.markdown(lesson.next_up)

right_so_far, judged, _ = ls.score(slug)
so_far = f" · {right_so_far} of {judged} right so far" if judged else ""
if n == steps and done is not None:
    so_far = f" · lesson done: **{right_so_far} of {steps} predictions right**"
progress.progress(n / steps, text=f"**{lesson.title}** · step {n} of {steps}: {step.title}{so_far}")
