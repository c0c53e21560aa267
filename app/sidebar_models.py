"""The sidebar's pick among pretrained models: all-MiniLM-L6-v2, shipped with the app, and the
models whoever runs the server put in its models folder (``encoder.models_folder``), each with
its architecture line, or with why it cannot be shown. A user only ever picks a name."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app import compute, state, ui
from encoder import EncoderConfig
from encoder.models_folder import ENV_FOLDER, FolderModel, models_dir

MINILM_LINE = "BERT architecture · 6 layers · 12 heads · d_model 384 · d_ff 1536 · GELU"
KEY = "pretrained"


def pretrained_picker() -> FolderModel | None:
    """The picker (only when the models folder holds something); the folder model picked, or
    None for all-MiniLM-L6-v2."""
    models, problem = compute.folder_models()
    if problem:
        st.warning(problem, icon=":material/folder_off:")
    ready = {m.name: m for m in models if m.ok}
    refused = [m for m in models if not m.ok]
    picked = None
    if ready:
        names = [state.MINILM, *ready]
        ui.keep_valid(KEY, names, state.MINILM)  # a model taken out of the folder meanwhile
        name = st.selectbox(
            "Pretrained model",
            names,
            key=state.linked(KEY),
            bind="query-params",
            help=f"{state.MINILM} ships with the app. The others are the BERT-architecture "
            f"models in this server's models folder, put there by whoever runs it "
            f"({ENV_FOLDER} or models/ in the project).",
        )
        picked = ready.get(name)
    if picked is None:
        st.caption(MINILM_LINE)
    else:
        names = {v: k for k, v in state.ACTIVATION_OPTIONS.items()}  # "relu" -> "ReLU"
        activation = names.get(picked.activation, picked.activation)
        st.caption(f"BERT architecture · {picked.line} · {activation}")
    if refused:
        refusals(refused)
    return picked


def loadable(choice: state.ModelChoice) -> state.ModelChoice:
    """The sidebar's choice, or all-MiniLM-L6-v2 when a folder model's weights fail the checks
    that only loading makes (NaN or huge values), said in words beside the picker."""
    problem = compute.folder_problem(choice.folder, choice.stamp) if choice.folder else ""
    if not problem:
        return choice
    st.error(
        f"{state.md_escape(choice.folder, 80)} could not be loaded: "
        f"{state.md_escape(problem, 400)}. Showing {state.MINILM} instead.",
        icon=":material/error:",
    )
    return replace(choice, config=None, folder="", stamp="")


def refusals(refused: list[FolderModel]) -> None:
    """Each folder the app cannot show, by name, with its reason in words."""
    label = f"{ui.count(len(refused), 'model folder')} not shown"
    with st.expander(label, icon=":material/folder_off:"):
        st.caption(f"In {state.md_escape(str(models_dir()), 200)}:")
        for model in refused:
            name = state.md_escape(model.name, 80)
            st.caption(f"**{name}** {state.md_escape(model.reason, 1000)}")


def second_choice(first: state.ModelChoice, name: str) -> state.ModelChoice:
    """The pretrained model ``name`` in the same mode, seed and length as the sidebar's."""
    if name == state.MINILM:
        return state.ModelChoice(
            state.PRETRAINED,
            None,
            first.seed,
            first.train,
            min(first.max_len, state.PRETRAINED_MAX_LEN),
        )
    entry = compute.folder_entry(name)
    max_len = min(first.max_len, entry.config.max_len)
    config = EncoderConfig(**{**entry.config.to_dict(), "max_len": max_len})
    return state.ModelChoice(
        state.PRETRAINED,
        config,
        first.seed,
        first.train,
        max_len,
        folder=name,
        stamp=entry.stamp,
    )


def radio_caption() -> str:
    """The Pretrained choice's caption: what it offers on this server."""
    more = len(pretrained_names()) - 1
    return "all-MiniLM-L6-v2, real weights" if not more else f"real weights: MiniLM + {more} more"


def pretrained_names() -> list[str]:
    """all-MiniLM-L6-v2 and every ready model of the models folder."""
    return [state.MINILM, *(m.name for m in compute.folder_models()[0] if m.ok)]
