"""Layer by layer: every real token at every depth, projected to 2-D or 3-D and animated."""

from __future__ import annotations

import streamlit as st

from app import compute, state, ui
from app.charts import projections as charts
from app.charts.common import safe_label
from app.compute import projections as proj
from app.snippets.projections import projections_snippet
from app.views import models_compare

PRESETS = proj.PRESETS
MAX_LABELS = 150  # tokens per depth beyond which their labels only overlap
MAX_COSINE = 96  # tokens in one readable cosine matrix
MAX_TRACED = 8
MARKS = {True: "numbers along a path are depths.", False: "rings mark the traced tokens."}
COSINE_WIDTH = 520  # px: beside the projection on a projector, alone on a laptop
PAIR_WIDTH = 680  # px: two models' projections side by side on a projector
SCENE_WIDTH = 640  # px: a 3-D scene scales with its height, so a wider box stays empty
AXES_HELP = {
    "shared": "**Shared axes**: one projection fitted on every depth's points together, so a "
    "point that moves between depths really moved in the model's space.",
    "per layer": "**Per layer**: a fresh fit at each depth shows that depth's own structure "
    "best, but the axes change from depth to depth, so movement between frames means little: "
    "traced tokens are ringed at each depth instead of joined by a path.",
}
EXPLAINER = """Each point is one token's vector, squeezed from d_model dimensions down to 2 (or 3)
so you can see it. **Depth 0** is what enters the first layer: the token's embedding plus its
position. Each later depth is the output of one more layer. Every real token of every sentence
in the sidebar is drawn; padding never is. Press **▶ Play** on the chart to watch the tokens
move through the encoder; the depth slider picks the frame the cosine matrix describes.

**PCA** finds the directions along which the points spread most: the axes are real directions
in the model's space, and the explained variance says how much of the spread you are seeing.
**t-SNE** places points so that near neighbours stay near: good at showing clusters, but its
axes and the distances between clusters mean nothing.

**Try this**
- Load the *“bank”* preset and press play: the four banks start as one point and pull apart;
  at the last depth the cosine matrix groups the river banks against the money banks.
- Switch *Axes* to *per layer*: each depth gets its own best view (and its own variance).
- *Colour by position*: at depth 0 the positions show as a gradient; later layers mix them.
- Switch the sidebar to *From scratch*: random weights move tokens too, but without meaning.
- Watch the anisotropy chart: in MiniLM the mean cosine between tokens rises with depth,
  the vectors crowding into a narrower cone."""


def preset_tokens(choice: state.ModelChoice, text: str, word: str) -> list[str]:
    """The trace picker's labels ("2·6 bank") of every `word` token in the preset's sentences."""
    labels = []
    for s, sentence in enumerate(state.split_sentences(text)[0]):
        try:
            enc = compute.tokenizer_for(choice).encode(sentence, choice.max_len)
        except ValueError:  # a toy task's tokenizer reads only its own inputs: trace nothing
            return []
        labels += [f"{s + 1}·{p} {t}" for p, t in enumerate(enc.tokens) if t == word]
    return labels


def preset_bar(choice: state.ModelChoice) -> None:
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.markdown("**Presets that make a point:**", width="content")
        layers = compute.model_for(choice).cfg.n_layers
        for name, preset in PRESETS.items():
            # the preset's sentences and the view that makes its point, set before the rerun
            view = dict(method="PCA", color=preset["colour"], layer=layers, axes="shared")
            trace = preset_tokens(choice, preset["text"], preset["trace"])
            st.button(
                name,
                key=f"preset_{name}",
                on_click=state.assign,
                kwargs={state.TEXT: preset["text"], "trace": trace, **view},
            )
    text = st.session_state[state.TEXT]
    shown = next((n for n, p in PRESETS.items() if p["text"] == text), None)
    if shown is not None:
        note = PRESETS[shown]["look" if choice.kind == state.PRETRAINED else "scratch"]
        if choice.kind not in (state.PRETRAINED, state.SCRATCH):
            note = (
                f"These sentences make their point with the pretrained model; {choice.label} "
                "knows only its toy task. Switch the sidebar to *Pretrained* to see it."
            )
        st.info(f"**What to look for.** {note}", icon=":material/visibility:")


def view_controls(choice: state.ModelChoice):
    with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
        method = ui.segmented("Method", list(proj.METHODS), "method")
        dims = ui.segmented("View", ["2-D", "3-D"], "dims")
        axes = ui.segmented("Axes", ["shared", "per layer"], "axes")
        colour = ui.segmented("Colour by", ["sentence", "position", "word"], "color")
        labels = st.toggle(
            "Token labels", value=True, key=state.linked("labels"), bind="query-params"
        )
        second = models_compare.second_model(choice, label="Beside it, a second model")
    st.caption(AXES_HELP[axes])
    return method, 3 if dims == "3-D" else 2, axes == "shared", colour, labels, second


def tsne_settings(fit: int, fits: int) -> tuple[str, int, float | None]:
    """Perplexity and seed, shown before t-SNE runs; falls back to PCA on too few points."""
    with st.container(horizontal=True, gap="large"):
        asked = st.slider(
            "t-SNE perplexity",
            5,
            50,
            value=proj.TSNE_PERPLEXITY,
            key=state.linked("perp"),
            bind="query-params",
            help="Roughly how many neighbours each point tries to keep close (30 is usual).",
            width=360,
        )
        seed = ui.number_input(
            "t-SNE seed",
            min_value=0,
            max_value=9999,
            value=0,
            key=state.linked("tseed"),
            bind="query-params",
            help="t-SNE starts from a seeded layout: the same seed gives the same picture.",
            width=200,
        )
    if fit < proj.MIN_TSNE_FIT:
        where = "" if fits == 1 else " (per layer, each depth is fitted alone)"
        st.warning(
            f"t-SNE needs at least {proj.MIN_TSNE_FIT} points per fit to find neighbourhoods, "
            f"and this view gives it {fit}{where}. Showing **PCA** instead: add sentences, or "
            "choose shared axes, which fit every depth's points at once.",
            icon=":material/swap_horiz:",
        )
        return "PCA", 0, None
    used = proj.tsne_perplexity(asked, fit)
    lowered = f" (lowered from {asked}: it must stay below a third of the points)" * (used < asked)
    st.caption(
        f"t-SNE runs with **perplexity {round(used, 1):g}**{lowered} and **seed {seed}** on "
        f"{fit * fits:,} points in {fits} fit{'s' * (fits > 1)} of {fit:,}: roughly "
        f"{proj.tsne_seconds(fit * fits):.0f} s the first time, then kept."
    )
    return "t-SNE", int(seed), used


def keep_traced(options: list[str]) -> None:
    """Drop traced tokens that are no longer on screen (other sentences, a lower cap)."""
    picked = st.session_state.get("trace")
    if picked and any(p not in options for p in picked):
        st.session_state["trace"] = [p for p in picked if p in options][:MAX_TRACED]


choice = ui.header("Layer by layer", EXPLAINER)
preset_bar(choice)
texts = ui.sentences()
fwd = ui.encode(choice, texts)
depths = fwd.config.n_layers + 1
method, k, shared, colour, labels, second = view_controls(choice)

pts = proj.capped_points(choice, tuple(texts), method, fwd)
keep = pts.keep
n = len(pts.tokens)
if keep is not None:
    st.info(
        f"{pts.total:,} tokens × {depths} depths = {pts.total * depths:,} points is more than "
        f"{method} draws quickly here ({proj.MAX_POINTS[method]:,}): kept the first {keep} "
        f"tokens of each sentence, {n:,} of {pts.total:,} tokens ({pts.total - n:,} dropped).",
        icon=":material/filter_alt:",
    )
for a, b in proj.duplicate_sentences(texts):
    same = "lie exactly on top of each other" if not choice.train else "differ only by dropout"
    st.info(f"Sentences {a} and {b} are the same text: their points {same}.")

seed, perplexity, used = 0, None, "PCA"
if method == "t-SNE":
    fit = proj.fit_size(n, depths, shared)
    used, seed, perplexity = tsne_settings(fit, 1 if shared else depths)
    if used == "t-SNE" and len(texts) == 1:
        st.caption(
            "With one sentence, t-SNE's nearest neighbours are mostly the same token at the "
            "next depth: add sentences for clusters of meaning."
        )
try:
    busy = f"Running t-SNE on {n * depths:,} points…" if used == "t-SNE" else "Projecting…"
    with st.spinner(busy, show_time=True):
        coords, ratios = proj.projection(
            choice, tuple(texts), keep, used, k, shared, seed, perplexity, _hidden=pts.hidden
        )
except ValueError as err:
    if used == "PCA":
        st.error(f"Could not project these vectors: {err}")
        st.stop()
    st.warning(f"t-SNE could not run: {err}. Showing PCA instead.")
    used, seed, perplexity = "PCA", 0, None
    coords, ratios = proj.projection(
        choice, tuple(texts), keep, "PCA", k, shared, _hidden=pts.hidden
    )
if not shared and n - 1 < k and used == "PCA":
    st.warning(
        f"{n} tokens span at most {n - 1} direction(s) at one depth: in a per-layer fit the "
        f"last {k - n + 1} axis(es) are flat. Use shared axes, or add words."
    )

ui.keep_valid("layer", list(range(depths)), depths - 1)
if st.session_state.get("layer") == st.session_state.get("_last_depth", depths - 1):
    st.session_state["layer"] = depths - 1  # at the last depth before: stay at the last one
st.session_state["_last_depth"] = depths - 1
with st.container(horizontal=True, gap="large", vertical_alignment="bottom"):
    depth = st.slider(
        "Depth: 0 = embeddings + positions, then the output of each layer",
        0,
        depths - 1,
        value=depths - 1,
        key=state.linked("layer"),
        bind="query-params",
        width=420,
    )
    options = pts.labels
    keep_traced(options)
    traced = st.multiselect(
        "Trace tokens across the layers (sentence·position token)",
        options,
        key=state.linked("trace"),
        bind="query-params",
        max_selections=MAX_TRACED,
        placeholder="Pick tokens to draw their path…",
    )
if labels and n > MAX_LABELS:
    st.caption(f"Token labels are off: {n} tokens per depth would overlap. Hover a point instead.")
    labels = False

look = dict(colour_by=colour, labels=labels, method=used, shared=shared)
width = PAIR_WIDTH if second is not None else 860 if k == 2 else SCENE_WIDTH
with st.container(horizontal=True, gap="large"):
    with st.container(width=width):
        if second is not None:
            st.markdown(f"**{state.md_escape(choice.name, 80)}**")
        models_compare.projection_chart(
            pts, coords, ratios, depth, texts=texts, key="projection",
            traced=[options.index(t) for t in traced], **look,
        )  # fmt: skip
        if ratios is not None:
            shown = " + ".join(f"{100 * r:.1f}%" for r in ratios[depth])
            st.caption(
                f"Explained variance at depth {depth}: the {k} axes show {shown} of this depth's "
                "spread around its own mean (the grey dashed line in the anisotropy chart gives "
                f"every depth). Diamonds are [CLS] and [SEP]; {MARKS[shared]}"
            )
        else:
            st.caption(
                "t-SNE keeps neighbours, not distances: it has no explained variance, and the "
                f"gaps between clusters mean little. Diamonds are [CLS] and [SEP]; {MARKS[shared]}"
            )
    right = st.container(width=PAIR_WIDTH if second is not None else COSINE_WIDTH)
cosine_slot, cka_shown = right, False
if second is not None:
    with right:
        st.markdown(f"**{state.md_escape(second.name, 80)}**")
        models_compare.projection_beside(
            second, texts, depth=depth, depths=depths, traced=traced,
            fit=(used, k, shared, seed, perplexity), **look,
        )  # fmt: skip
    with st.container(horizontal=True, gap="large"):
        with st.container(width=PAIR_WIDTH):
            cka_shown = models_compare.similarity(choice, second, texts)
        cosine_slot = st.container(width=COSINE_WIDTH)
with cosine_slot:
    sel = list(range(n))
    if n > MAX_COSINE and len(texts) > 1:
        st.caption(f"{n} tokens are too many for one readable matrix: pick a sentence.")
        pick = ui.sentence_picker(texts, label="Sentence for the cosine matrix")
        sel = [i for i in sel if pts.sentence[i] == pick]
    sim = proj.cosine(pts.hidden[depth][sel])
    names = [options[i] for i in sel] if len(texts) > 1 else [options[i][2:] for i in sel]
    title = f"Token-token cosine at depth {depth}"
    ticks = [safe_label(x) for x in names]
    ui.plotly_chart(
        charts.cosine_figure(sim, ticks, title, COSINE_WIDTH),
        key="cosine",
        theme=None,
    )
    fit = charts.cosine_layout(ticks, COSINE_WIDTH)
    if fit["every"] > 1:
        st.caption(
            f"{len(ticks)} columns are too narrow to name each one: one in {fit['every']} is "
            "labelled (the rows name them all). Hover a cell for its tokens and cosine."
        )
    elif not fit["values"]:
        st.caption("The cells are too small to print their cosine: hover a cell for it.")
    mean_cos, mean_norm = proj.depth_profile(pts.hidden)
    visible = None if ratios is None else ratios.sum(axis=1)
    ui.plotly_chart(
        charts.depth_profile_figure(mean_cos, mean_norm, visible, depth),
        key="profile",
        theme=None,
    )
    st.caption(
        "Mean cosine over every pair of distinct tokens, and the mean vector length, at each "
        "depth. In BERT-style models the cosine rises with depth (anisotropy): the vectors "
        "crowd into a narrow cone, so a high cosine alone says little."
    )

ui.download(  # the table is built only when the button is pressed (4-5 ms at 128 tokens)
    "Download the projected coordinates (CSV)",
    lambda p=pts, c=coords, m=used, s=shared: proj.coordinates_table(p, c, m, s).to_csv(
        index=False
    ),
    f"projections_{used.lower()}_{k}d.csv",
    "text/csv",
    key="csv",
)
ui.snippet(
    projections_snippet(
        choice,
        texts,
        method=proj.METHODS[used],
        k=k,
        shared=shared,
        seed=seed,
        perplexity=perplexity,
        keep=keep,
        second=second,
        cka=cka_shown,
    )
)
