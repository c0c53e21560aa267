"""Encoder Explorer: entrypoint. Page config, the shared sidebar, and navigation."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` from a clean checkout
    sys.path.insert(0, str(ROOT))

from app import state, ui  # noqa: E402
from encoder import EncoderConfig  # noqa: E402
from encoder.config import POSITIONAL_KINDS  # noqa: E402

# the icon ships with the app: a classroom without internet still gets it
st.set_page_config(
    page_title="Encoder Explorer", page_icon=str(state.ASSETS / "favicon.png"), layout="wide"
)

PAGES = [
    st.Page(
        "views/encode.py", title="Encode", icon=":material/input:", url_path="encode", default=True
    ),
    st.Page(
        "views/attention.py", title="Attention", icon=":material/grid_on:", url_path="attention"
    ),
    st.Page(
        "views/positional.py", title="Positions", icon=":material/waves:", url_path="positional"
    ),
    st.Page(
        "views/projections.py",
        title="Layer by layer",
        icon=":material/scatter_plot:",
        url_path="projections",
    ),
    st.Page(
        "views/padding.py",
        title="Padding & masks",
        icon=":material/check_box_outline_blank:",
        url_path="padding",
    ),
    st.Page(
        "views/inside_layer.py", title="Inside a layer", icon=":material/layers:", url_path="inside"
    ),
    st.Page("views/train.py", title="Train", icon=":material/model_training:", url_path="train"),
]


def sentences_controls() -> None:
    state.init_text()
    st.text_area(
        "Sentences, one per line",
        key=state.TEXT,
        height=130,
        help=f"Each line is one sentence; several lines make a padded batch "
        f"(up to {state.MAX_SENTENCES}).",
    )
    # the picker names the example on screen, and goes blank once the text is edited
    st.session_state["example"] = state.example_name(st.session_state[state.TEXT])
    st.selectbox(
        "Or load an example",
        list(state.EXAMPLES),
        index=None,
        placeholder="Choose an example…",
        key="example",
        on_change=_load_example,
    )
    if st.session_state.get(UNDO) is not None and st.session_state["example"] is not None:
        st.button(
            "Bring back my text",
            icon=":material/undo:",
            key="restore_text",
            on_click=_restore_text,
            help="Loading the example replaced the text you had typed; this puts it back.",
        )


UNDO = "text_before_example"


def _load_example() -> None:
    name = st.session_state.get("example")
    if not name:
        return
    text = st.session_state[state.TEXT]
    if state.example_name(text) is None and text.strip():  # typed text: keep it for undo
        st.session_state[UNDO] = text
    st.session_state[state.TEXT] = state.EXAMPLES[name]


def _restore_text() -> None:
    st.session_state[state.TEXT] = st.session_state.pop(UNDO)


def model_controls() -> state.ModelChoice:
    d = state.DEFAULTS
    label = st.radio(
        "Model",
        list(state.MODEL_OPTIONS),
        captions=[
            "all-MiniLM-L6-v2, real weights",
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
    if kind == state.PRETRAINED:
        st.caption("BERT architecture · 6 layers · 12 heads · d_model 384 · d_ff 1536 · GELU")
        max_len_options = [o for o in state.MAX_LEN_OPTIONS if o <= state.PRETRAINED_MAX_LEN]
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
        max_len = st.select_slider(
            "max_len (tokens kept per sentence)",
            max_len_options,
            value=d["max_len"],
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
    seed = st.number_input(
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
    return state.ModelChoice(kind, config, int(seed), bool(train), int(max_len), trained, weights)


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

first_run = "choice" not in st.session_state
asked = state.asked_params() if first_run else {}
state.begin_run()
with st.sidebar:
    st.markdown("### :material/hub: Encoder Explorer")
    sentences_controls()
    st.divider()
    st.session_state["choice"] = model_controls()
    st.divider()
    share_slot = st.container()
notices = st.container()  # above every page: what a link asked for and could not get

page = st.navigation(PAGES)
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
