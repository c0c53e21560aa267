"""Encoder Explorer: entrypoint. Page config, the shared sidebar, and navigation."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st
from streamlit import config as st_config
from streamlit.errors import StreamlitAPIException

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` from a clean checkout
    sys.path.insert(0, str(ROOT))

from app import compute, server, sidebar_models, state, ui  # noqa: E402
from encoder import EncoderConfig  # noqa: E402
from encoder.config import POSITIONAL_KINDS  # noqa: E402

server.refuse_long_links()  # once per server process: a link over 64 KB is refused in words

# the icon ships with the app: a classroom without internet still gets it
st.set_page_config(
    page_title="Encoder Explorer", page_icon=str(state.ASSETS / "favicon.png"), layout="wide"
)

# Each page's address is its title in lower case with hyphens (state.PAGE_TABLE); Encode, the
# default page, is served at the app's root.
# Other addresses people type or older links carry, the file names among them (which
# AppTest.switch_page("views/....py") resolves to): each opens its page, the query kept.
ALIASES = {
    "encode": "home",
    "positional": "positions",
    "position": "positions",
    "projections": "layer-by-layer",
    "layers": "layer-by-layer",
    "padding-and-masks": "padding",
    "padding-masks": "padding",
    "masks": "padding",
    "inside": "inside-a-layer",
    "inside_layer": "inside-a-layer",
    "inside-layer": "inside-a-layer",
}
PAGES = {
    path: st.Page(file, title=title, icon=icon, url_path=path, default=path == "home")
    for path, (file, title, icon) in state.PAGE_TABLE.items()
}
ALIAS_PAGES = {
    alias: st.Page(
        state.PAGE_TABLE[to][0], title=state.PAGE_TABLE[to][1], url_path=alias, visibility="hidden"
    )
    for alias, to in ALIASES.items()
}


def follow_alias(page):
    """An old or guessed address opens its page under the page's own address, query kept (the
    address bar, the menu and the Share link then name it). Back into an old address later in
    a session: the widgets hold their own values, and the query moves without them.

    AppTest runs the page in place: it asks for the address it was switched to on every run,
    which a browser never does after the move, and a move on every run would lose each run's
    widget values (st.switch_page carries none)."""
    alias = next((a for a, p in ALIAS_PAGES.items() if p is page), None)
    if alias is None or st_config.get_option("global.appTest"):  # set by AppTest while it runs
        return page
    bound = state.linked_keys()  # last run's widgets: Streamlit refuses to move their keys
    query = {key: st.query_params.get_all(key) for key in st.query_params if key not in bound}
    with contextlib.suppress(StreamlitAPIException):  # a key still bound: run it in place
        st.switch_page(PAGES[ALIASES[alias]], query_params=query)
    return page


# characters the sentence box holds: 8 sentences of 512 tokens take about 25,000 characters of
# English, and tokenizing 50,000 takes ~25 ms (a pasted book must not tie up a core)
MAX_TEXT_CHARS = 50_000


def sentences_controls() -> None:
    from app.compute import train as toy  # a switch to a trained model brings its inputs along

    state.init_text()
    toy.follow_model_switch()
    st.text_area(
        "Sentences, one per line",
        key=state.TEXT,
        height=130,
        help=f"Each line is one sentence; several lines make a padded batch "
        f"(up to {state.MAX_SENTENCES}). The box holds {MAX_TEXT_CHARS:,} characters.",
        max_chars=MAX_TEXT_CHARS,
    )
    if len(st.session_state[state.TEXT]) >= MAX_TEXT_CHARS:
        st.warning(
            f"The box holds {MAX_TEXT_CHARS:,} characters at most, and it is full: text past "
            "that is not taken (the box refuses a longer paste whole). Each sentence keeps at "
            "most max_len tokens anyway."
        )
    # the picker names the example on screen, and goes blank once the text is edited
    st.session_state["example"] = state.example_name(st.session_state[state.TEXT])
    st.selectbox(
        "Or load an example",
        list(state.EXAMPLES),
        index=None,
        placeholder="Choose an example…",
        key="example",
        on_change=state.load_example,
    )
    undo = state.EXAMPLE_UNDO
    if st.session_state.get(undo) is not None and st.session_state["example"] is not None:
        st.button(
            "Bring back my text",
            icon=":material/undo:",
            key="restore_text",
            on_click=state.restore_text,
            args=(undo,),
            help="Loading the example replaced the text you had typed; this puts it back.",
        )
    toy.inputs_notice()


def model_controls() -> state.ModelChoice:
    d = state.DEFAULTS
    label = st.radio(
        "Model",
        list(state.MODEL_OPTIONS),
        captions=[
            sidebar_models.radio_caption(),
            "random weights, your architecture",
            "small models trained on toy tasks",
        ],
        key=state.linked("model"),
        bind="query-params",
        index=list(state.MODEL_OPTIONS).index(d["model"]),
    )
    kind = state.MODEL_OPTIONS[label]
    config = None
    trained, weights = None, b""
    if kind == state.TRAINED:
        from app import compute
        from app.compute import train as toy

        models = toy.available()  # the shipped checkpoints, then this session's own
        if not models:
            st.warning("No trained model yet: train one on the Train page. Showing Pretrained.")
            kind = state.PRETRAINED
    folder = None
    if kind == state.PRETRAINED:
        folder = sidebar_models.pretrained_picker()
        longest = state.PRETRAINED_MAX_LEN if folder is None else folder.config.max_len
        max_len_options = [o for o in state.MAX_LEN_OPTIONS if o <= longest] or [longest]
        config = None if folder is None else folder.config
    elif kind == state.TRAINED:
        if "trained" in st.session_state and st.session_state["trained"] not in models:
            st.session_state["trained"] = next(iter(models))
        trained = st.selectbox(
            "Trained model",
            list(models),
            key=state.linked("trained"),
            bind="query-params",
            help="Shipped with the app (made by python -m encoder.train), then the ones you "
            "trained (“· yours”) or loaded (“· uploaded”) on the Train page.",
        )
        weights = models[trained]
        ckpt = compute.trained_checkpoint(weights)
        config = ckpt.model.cfg
        st.caption(f"{ckpt.task.summary}. Type {ckpt.tokenizer().expects()} per line.")
        st.button(
            "Use the task's inputs",
            icon=":material/edit_note:",
            key="task_inputs",
            on_click=toy.load_inputs,
            args=(ckpt.task.name,),
        )
        max_len_options = None  # it reads at most the lengths it was trained on
    else:
        config = scratch_controls()
        max_len_options = state.MAX_LEN_OPTIONS
    if max_len_options is None:
        max_len = config.max_len
    else:
        fallback = state.closest(max_len_options, d["max_len"])  # a model of fewer positions
        ui.keep_valid("max_len", max_len_options, fallback)
        max_len = st.select_slider(
            "max_len (tokens kept per sentence)",
            max_len_options,
            value=fallback,
            key=state.linked("max_len"),
            bind="query-params",
            help="Longer sentences are cut to this many tokens, and the page says so.",
        )
    if config is not None:
        config = EncoderConfig(**{**config.to_dict(), "max_len": max_len})
    train = st.toggle(
        "Train mode (dropout on)",
        value=d["train"],
        key=state.linked("train"),
        bind="query-params",
        help="In train mode dropout zeroes random activations: run it twice with different "
        "seeds and the outputs change. Eval mode (off) is deterministic.",
    )
    seed = ui.number_input(
        "Seed (weights and dropout)" if kind == state.SCRATCH else "Seed (dropout in train mode)",
        min_value=0,
        max_value=2**31 - 1,
        value=d["seed"],
        step=1,
        key=state.linked("seed"),
        bind="query-params",
        help="The same seed gives everyone in the room the same random weights (From scratch) "
        "and the same dropout masks (train mode).",
    )
    where = {"folder": folder.name, "stamp": folder.stamp} if folder is not None else {}
    choice = state.ModelChoice(
        kind, config, int(seed), bool(train), int(max_len), trained, weights, **where
    )
    return sidebar_models.loadable(choice)


def scratch_controls() -> EncoderConfig:
    d = state.DEFAULTS
    d_model = st.select_slider(
        "d_model",
        state.D_MODEL_OPTIONS,
        value=d["d_model"],
        key=state.linked("d_model"),
        bind="query-params",
    )
    heads = state.head_options(d_model)
    # a d_model change can leave n_heads without a valid choice: snap it before the slider
    # runs. The slider's default stays fixed: a default that followed the value would make
    # every value "the default", and the URL would never carry n_heads.
    wanted = st.session_state.get("n_heads", state.url_int("n_heads", d["n_heads"]))
    if wanted not in heads:  # from a d_model change, or a link: the closest that divides
        st.session_state["n_heads"] = state.closest(heads, wanted)
    n_heads = st.select_slider(
        "n_heads (only divisors of d_model)",
        heads,
        value=d["n_heads"],
        key=state.linked("n_heads"),
        bind="query-params",
    )
    n_layers = st.slider(
        "n_layers", 1, 12, value=d["n_layers"], key=state.linked("n_layers"), bind="query-params"
    )
    d_ff = st.select_slider(
        "d_ff", state.D_FF_OPTIONS, value=d["d_ff"], key=state.linked("d_ff"), bind="query-params"
    )
    dropout = st.slider(
        "dropout",
        0.0,
        0.9,
        value=d["dropout"],
        step=0.05,
        key=state.linked("dropout"),
        bind="query-params",
    )
    positional = st.selectbox(
        "Positional encoding",
        POSITIONAL_KINDS,
        key=state.linked("positional"),
        bind="query-params",
    )
    activation = st.selectbox(
        "Activation",
        list(state.ACTIVATION_OPTIONS),
        key=state.linked("activation"),
        bind="query-params",
    )
    norm = st.selectbox(
        "LayerNorm placement",
        list(state.NORM_OPTIONS),
        key=state.linked("norm"),
        bind="query-params",
        help="post-norm (the paper, BERT): LayerNorm(x + sublayer(x)). "
        "pre-norm: x + sublayer(LayerNorm(x)), then one final LayerNorm.",
    )
    return EncoderConfig(
        d_model=d_model,
        n_heads=n_heads,
        n_layers=n_layers,
        d_ff=d_ff,
        dropout=round(float(dropout), 4),
        positional=positional,
        activation=state.ACTIVATION_OPTIONS[activation],
        norm_first=state.NORM_OPTIONS[norm],
    )


def share_control() -> None:
    fits = state.sync_text_param(st.session_state[state.TEXT])
    with st.popover("Share this view", icon=":material/link:", width="stretch"):
        query = urlencode(state.share_query(st.session_state[state.TEXT]), doseq=True)
        base = st.context.url or ""
        st.caption("Anyone who opens this link sees this page with these settings.")
        st.code(f"{base}?{query}" if query else base, language=None, wrap_lines=True)
        if not fits:
            st.warning(
                f"The sentences are longer than {state.MAX_LINK_TEXT} characters, too long for a "
                "link: the link keeps the settings but not the text."
            )
        choice: state.ModelChoice = st.session_state["choice"]
        from app.compute import train as toy

        if choice.kind == state.TRAINED and choice.trained not in toy.shipped():
            st.warning(
                f"“{state.md_escape(choice.trained)}” lives in this browser session only: "
                "whoever opens the link gets a shipped model instead. To share it, download "
                "its checkpoint on the Train page and send the file.",
                icon=":material/cloud_off:",
            )


ASKED = "_link_asked"
ASKED_KEPT = "_link_asked_kept"


def link_notice(asked: dict[str, str]) -> None:
    problems = state.link_problems(asked, state.linked_keys())
    if problems:
        st.warning(
            "This link could not be followed exactly:\n" + "\n".join(f"- {p}" for p in problems),
            icon=":material/link_off:",
        )


# Streamlit fades a page to a third while it reruns; a long forward pass then leaves it
# unreadable. Keep it legible (the spinner at the top says what is being computed).
st.html("<style>[data-stale='true'] { opacity: 0.75 !important; }</style>")

# before any widget: an old address's first run draws nothing before it moves to the new one
page = follow_alias(st.navigation([*PAGES.values(), *ALIAS_PAGES.values()]))

# What the link asked for, read on the session's first run before any widget ran; kept through
# the rerun a page asks for when the link emptied a required choice (ui.segmented), so the
# notice drawn by the run that stays on screen names it.
if "choice" not in st.session_state:
    st.session_state[ASKED] = state.asked_params()
elif ui.retrying() and ASKED_KEPT not in st.session_state:
    st.session_state[ASKED_KEPT] = True  # that rerun only, once per session
else:
    st.session_state.pop(ASKED, None)
asked = st.session_state.get(ASKED, {})
state.begin_run()
with st.sidebar:
    st.markdown("### :material/hub: Encoder Explorer")
    sentences_controls()
    st.divider()
    st.session_state["choice"] = model_controls()
    st.divider()
    share_slot = st.container()
notices = st.container()  # above every page: what a link asked for and could not get

try:
    page.run()
except Exception:  # st.stop() and reruns are not Exceptions; they pass through
    if not ui.errors_redacted():
        raise
    ui.page_failed(page.title)
finally:  # also after a page's st.stop(): the link must name the page's own widgets too
    with share_slot:
        share_control()
    with notices:
        link_notice(asked)
    if not st_config.get_option("global.appTest"):  # a test process is not a server
        compute.freeze_heap()  # what this run imported, out of every later run's GC
