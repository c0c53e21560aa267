"""Attention: every head at a glance, one head in depth, token lines, rollout, head statistics,
a map of every head, queries and keys in one plane, two models or two sentences side by side,
and exports."""

from __future__ import annotations

from contextlib import nullcontext
from functools import partial

import numpy as np
import streamlit as st

from app import compute, state, ui
from app.charts import attention as charts
from app.charts import attention_stats as head_table
from app.components.attention_canvas import attention_canvas, pick_head, pick_query
from app.compute import attention as attn
from app.snippets.attention import attention_snippet
from app.views.attention_compare import compare_view
from app.views.attention_heads import head_map_view, queries_keys_view
from app.views.attention_queries import several_queries
from app.views.models_compare import two_models_view
from encoder.analysis import head_statistics

VIEWS = ["Heads", "Token lines", "Mean & rollout", "Head statistics", "Head map", "Queries & keys"]
VIEWS += ["Two models", "Compare"]  # Compare: offered when there are two sentences or more
WHOLE = ("Head statistics", "Head map", "Queries & keys", "Two models")  # every token, as computed
OWN_PASS = ("Queries & keys",)  # views that need no attention maps of the page's pass
LINE_MIN = 0.01  # token lines below this weight are not drawn
RESIDUAL = attn.RESIDUAL  # rollout's weight of the residual connection


EXPLAINER = (
    "In every layer, each head lets every token (the **query**, a row) take a weighted mix of "
    "the vectors of all tokens (the **keys**, the columns). A row's weights are ≥ 0 and sum "
    "to 1; padding gets none. Layers and heads are counted from 0, as in Python.\n\n"
    "**What attention weights are, and are not.** They show where a token's new vector mixes "
    "information *from*, in one head of one layer. They do not say *why* the model decided "
    "anything: what is mixed passes through value and output projections, the feed-forward "
    "network and every later layer, and a sharp head can carry little. A view of the "
    "plumbing, not an explanation.\n\n"
    "**Try this**\n"
    '- Type "She sat on the river bank." and "He opened a bank account." on two lines, open '
    "*Compare* and pick *bank*: the map of every head shows which heads send the two banks to "
    "different words; click one to see where each bank looks.\n"
    '- Type "The animal didn\'t cross the street because it was too tired", choose *Token '
    "lines*, click *it*, and step through the layers: look for a head that points at *animal*.\n"
    "- *Head statistics*: sort by *prev.* to find heads that look one token back, or by "
    "*[CLS]* for heads that park on [CLS]; click a row to open the head.\n"
    "- Switch the sidebar to *From scratch*: random weights give near-uniform heads (high "
    "entropy), and the overview turns into flat grey-blue tiles."
)

choice = ui.header("Attention", EXPLAINER)
texts = ui.sentences()
B = len(texts)
messages = st.container()  # truncation notes land above the controls
# keep a hidden view's pickers for when it returns
for key in ("token", "otoken", "lheads", "other", "queries", "hmcolour", "qkjoint"):
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]

# eight views do not fit one row at 1024 px: the View control wraps instead of scrolling
st.html("<style>.st-key-view [data-testid='stButtonGroup'] > div { flex-wrap: wrap; }</style>")
with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
    pick = ui.sentence_picker(texts)
    views = VIEWS if B > 1 else VIEWS[:-1]
    view = ui.segmented("View", views, "view")
    other = pick
    if view == "Compare":
        labels = ui.picker_labels(texts)
        others = [s for k, s in enumerate(labels) if k != pick]
        shown = ui.bound_select("Compare with", others, "other", width=360)
        other = labels.index(shown)


def run_forward(wanted: tuple[int, ...] | None) -> tuple[list, attn.SentenceAttention | None]:
    """The batch's encodings and the cached forward pass (sentences ``wanted`` kept at least),
    its spinner, its refusals and truncations said on the page. ``wanted`` None: the
    encodings alone, for a view that runs its own pass."""
    try:
        if wanted is None:
            encodings, result = compute.encode_batch(choice, texts).encodings, None
        else:
            keep = attn.keep_for(choice, tuple(texts), wanted)
            b, s = compute.batch_shape(tuple(texts), choice.max_len)
            secs = compute.estimate_seconds(choice, b, s) * 1.5
            # a spinner shows after 0.5 s but costs a timer thread each run: only where it can
            busy = st.spinner(ui.working_message(choice, b, s, secs), show_time=True)
            with busy if secs > 0.3 else nullcontext():
                result = attn.sentence_attention(choice, tuple(texts), keep)
            encodings = result.encodings
    except ValueError as err:
        st.error(f"Could not encode these sentences: {err}")
        st.stop()
    with messages:
        ui.say_cuts(choice, encodings)
    return encodings, result


# Queries & keys runs the model to one layer for one sentence (attention_heads.queries_keys):
# the whole batch's forward pass would be work thrown away on every new sentence
encodings, result = run_forward(None if view in OWN_PASS else (pick, other))
att = None if result is None else result.of(pick)  # (L, H, n, n)
enc = encodings[pick]
cfg = compute.model_for(choice).cfg
L, H, n = cfg.n_layers, cfg.n_heads, len(enc.tokens)


# every view shows these (greyed where they do not apply), so any link to the page fits any view
with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
    layer = ui.bound_select("Layer", list(range(L)), "layer", width=110)
    all_heads = view in ("Token lines", "Mean & rollout")
    head = ui.bound_select(
        "Head",
        list(range(H)),
        "head",
        width=110,
        disabled=all_heads,
        help="This view uses every head of the layer." if all_heads else None,
    )
    hide = st.toggle(
        "Hide [CLS] and [SEP] (rows renormalised)",
        key=state.linked("hide"),
        bind="query-params",
        width="content",
        disabled=view in WHOLE or not any(enc.special),
        help="Removes the special tokens' rows and columns, then rescales each row to sum "
        "to 1 again: the weight left over, shared out among the words. (The statistics always "
        "count every token.)"
        if any(enc.special)
        else "This model reads no [CLS] or [SEP]: every token is a character of the task.",
    )
    own_max = st.toggle(
        "Colour to each head's own max",
        key=state.linked("ownmax"),
        bind="query-params",
        width="content",
        disabled=view in ("Token lines", *WHOLE),
        help="Off: the colour scale runs from 0 to 1 for every map, so maps compare. On: from "
        "0 to the map's largest weight, so a flat head's pattern shows.",
    )


def shown(a: np.ndarray, e) -> tuple[np.ndarray, list[str], str, list[int]]:
    """The maps as drawn (special tokens hidden if asked), their labels, a title suffix, and
    the positions of the tokens kept."""
    if hide and any(e.special) and not all(e.special):
        kept, positions = attn.without_special(a, e.special)
        labels = charts.labels([e.tokens[p] for p in positions], positions)
        return kept, labels, " · renormalised", positions
    return a, charts.labels(e.tokens), "", list(range(len(e.tokens)))


if hide and all(enc.special):
    st.info("This sentence has only special tokens: nothing is left to show without them.")
if att is None:
    maps, tokens, renorm, positions = None, charts.labels(enc.tokens), "", list(range(n))
else:
    maps, tokens, renorm, positions = shown(att, enc)
name = f"L{layer} H{head}"
file = f"attention_s{pick + 1}_L{layer}_H{head}" + ("_renormalised" if renorm else "")
summary = f"Attention of sentence {pick + 1}: " + " ".join(enc.tokens)
if choice.train:
    st.caption(
        "Train mode: dropout zeroes some weights and scales the rest by 1/(1−p), so rows no "
        "longer sum to exactly 1."
    )

compared = None  # Compare's two query positions, for the snippet
extras: dict = {}  # the new views' settings, for the snippet
if view == "Heads":
    z = maps[layer, head]
    top, scale = charts.weight_scale(z, own_max)
    grid_title = f"All {L}×{H} heads{renorm}: layer rows, head columns. Click one to open it."
    attention_canvas(
        [
            charts.grid_panel(maps, (layer, head), own_max, grid_title),
            charts.matrix_panel(
                z, tokens, tokens, f"{name}{renorm}", zmax=top, scale=scale, file=file
            ),
        ],
        key="overview",
        summary=summary,
        min_width=520 if len(tokens) <= 48 else 720,  # long sentences: a bigger detail
        on_pick=partial(pick_head, "overview"),
    )
    overview = "each tile 0 to its own max" if own_max else "0 to 1 in every tile"
    st.caption(
        f"Overview colours: {overview}. Detail: row = the query token, column = the key it "
        "takes from; hover a cell for “query → key: weight”."
    )
    qs = several_queries(maps, layer, head, tokens, [], file, renorm, summary)
    extras["queries"] = [positions[q] for q in qs]

elif view == "Token lines":
    first_word = tokens[min(1, len(tokens) - 1)]  # [CLS] is a dull first query
    if "token" not in st.session_state and "token" not in st.query_params:
        st.session_state["token"] = first_word
    lheads = [h for h in st.session_state.get("lheads", []) if h < H]
    if "lheads" in st.session_state and len(lheads) != len(st.session_state["lheads"]):
        st.session_state["lheads"] = lheads or list(range(H))
    with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
        token = ui.bound_select("Query token", tokens, "token", fallback=first_word, width=280)
        heads_on = st.pills(
            "Heads drawn",
            list(range(H)),
            selection_mode="multi",
            default=list(range(H)),
            key=state.linked("lheads"),
            bind="query-params",
        )
    q = tokens.index(token)

    panel = charts.lines_panel(
        maps[layer, :, q, :], tokens, q, sorted(heads_on), LINE_MIN,
        f"Layer {layer}: where “{tokens[q]}” looks{renorm}",
    )  # fmt: skip

    attention_canvas(
        [panel],
        key="lines",
        summary=summary,
        on_query=partial(pick_query, "lines", tokens, panel["offset"]),
    )
    st.caption(
        f"One colour and one lane per head: each head's lines leave the query and reach every "
        "key at its own height in the row, so heads that look at the same key run side by side "
        f"instead of on top of each other. A line's opacity is its weight; lines under "
        f"{LINE_MIN} are not drawn (keys shaded by their largest weight). Click a token on the "
        "left to make it the query; hover a key for every head's weight."
    )
    stem = f"attention_s{pick + 1}_L{layer}"
    qs = several_queries(maps, layer, None, tokens, sorted(heads_on), stem, renorm, summary)
    extras["queries"] = [positions[q] for q in qs]

elif view == "Mean & rollout":
    mean, rollout = attn.mean_and_rollout(maps, layer, RESIDUAL)
    (mean_top, mean_scale), (roll_top, roll_scale) = (
        charts.weight_scale(mean, own_max),
        charts.weight_scale(rollout, own_max),
    )
    attention_canvas(
        [
            charts.matrix_panel(
                mean, tokens, tokens, f"Mean of the {H} heads of layer {layer}{renorm}",
                zmax=mean_top, scale=mean_scale, file=f"attention_s{pick + 1}_L{layer}_mean",
            ),
            charts.matrix_panel(
                rollout, tokens, tokens, f"Rollout through layers 0–{layer}{renorm}",
                zmax=roll_top, scale=roll_scale, axes=("input token", "token after this layer"),
                file=f"attention_s{pick + 1}_L{layer}_rollout",
            ),
        ],
        key="aggregate",
        summary=summary,
        min_width=460,
    )  # fmt: skip
    st.markdown(
        "- **Mean over heads**: what the layer's heads mix into each token if every head "
        "counted the same. It is not what the layer outputs: each head's mix passes through "
        "its own slice of the output projection, and some heads matter far more than others.\n"
        f"- **Rollout** (Abnar & Zuidema 2020): the layers' mean attention, with the residual "
        f"connection counted as attention to oneself (weight {RESIDUAL}), multiplied through "
        "the layers: roughly how much each token's vector after this layer draws on each input "
        "token. It ignores the values, the feed-forward networks and LayerNorm, so it is a "
        "rough map of information flow, not an explanation of the output."
    )

elif view == "Head statistics":
    stats = head_statistics(att)  # every token, [CLS] and [SEP] included
    frame = head_table.table(stats, n)

    st.caption(
        f"Every head of sentence {pick + 1}, its {n} tokens ([CLS] and [SEP] included), "
        "averaged over the query rows. Click a column's header to sort by it (again to turn "
        "the order round); click a row to open that head. Hover a header for its meaning."
    )
    attention_canvas(
        [head_table.table_panel(frame, (layer, head))],
        key="stats",
        summary=f"Statistics of every head of sentence {pick + 1}, one row per head",
        on_pick=partial(pick_head, "stats", "Heads"),
    )
    looks = head_table.short_kind(stats, layer, head, n) or "no clear pattern by these rules"
    st.markdown(f"The chosen head, **{name}**, looks like: {looks}.")
    st.markdown(f"**Heads in plain words** (named when {head_table.RULES}):")
    for kind, heads in head_table.named(stats, n).items():
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            count = ui.count(len(heads), "head") + (", the strongest 8" if len(heads) > 8 else "")
            st.markdown(f"{head_table.KINDS[kind]} ({count if heads else 'none'})", width="content")
            for lh, hh, _ in heads[:8]:
                st.button(
                    f"L{lh} H{hh}",
                    key=f"go_{lh}_{hh}",
                    on_click=state.assign,
                    kwargs=dict(layer=lh, head=hh, view="Heads"),
                    help="Open this head",
                )

elif view == "Head map":
    extras["headmap"] = head_map_view(choice, texts, layer, head)

elif view == "Queries & keys":
    extras["qk"] = queries_keys_view(choice, texts, pick, layer, head, charts.labels(enc.tokens))

elif view == "Two models":
    extras["second"], extras["cka"] = two_models_view(choice, texts, layer, head)

elif view == "Compare":
    qa, qb = compare_view(result, pick, other, layer, head, own_max, shown, summary)
    compared = (other, qa, qb)

if view in ("Heads", "Compare"):
    with st.container(horizontal=True, gap="small"):
        z_export, labels_export = maps[layer, head], tokens
        ui.download(
            f"{name} as CSV",
            lambda: attn.head_csv(z_export, labels_export),
            f"{file}.csv",
            "text/csv",
            key="csv",
        )
        ui.download(
            "All attention of this sentence (.npz)",
            lambda: attn.attention_npz(att, enc.tokens, choice, cfg, enc.text),
            f"attention_s{pick + 1}.npz",
            "application/octet-stream",
            key="npz",
        )
    st.caption(
        "The .npz holds every layer and head (layers × heads × tokens × tokens, special tokens "
        "kept), the tokens, the config and the seed. Pictures: PNG/SVG under each one. This "
        "exact view: *Share this view* in the sidebar."
    )

ui.snippet(attention_snippet(choice, texts, pick, layer, head, compared, **extras))
