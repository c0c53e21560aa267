"""The Attention page's Compare view (called by views/attention.py; not a page of its own): a
query token picked in each of two sentences, compared word by word in every head, then the two
whole maps of one head. UI only."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import streamlit as st

from app import ui
from app.charts import attention as charts
from app.components.attention_canvas import attention_canvas, pick_head
from app.compute import attention as attn


def word_of(label: str) -> str:
    """ "6 · bank" -> "bank"."""
    return label.split(" · ", 1)[-1]


def same_word(label: str, options: list[str]) -> str | None:
    """The first of ``options`` that is the same token as ``label`` (case aside), or None."""
    word = word_of(label).lower()
    return next((o for o in options if word_of(o).lower() == word), None)


def pick_tokens(tokens_a: list[str], tokens_b: list[str], a: int, b: int) -> tuple[int, int]:
    """The two query pickers (in the link as ``token`` and ``otoken``); their indices.

    Picking a token in the first sentence also picks the same token in the second, if it has one.
    """
    first_a = tokens_a[min(1, len(tokens_a) - 1)]  # [CLS] is a dull first query
    if "token" not in st.session_state and "token" not in st.query_params:
        st.session_state["token"] = first_a

    def follow(options: list[str] = tokens_b) -> None:
        match = same_word(st.session_state.get("token", ""), options)
        if match is not None:
            st.session_state["otoken"] = match

    with st.container(horizontal=True, gap="medium", vertical_alignment="bottom"):
        token_a = ui.bound_select(
            f"Query token in sentence {a + 1}", tokens_a, "token", fallback=first_a,
            width=260, on_change=follow,
            help="Whose row to compare. Picking one here also picks the same token in the "
            "other sentence, when it has one.",
        )  # fmt: skip
        first_b = same_word(token_a, tokens_b) or tokens_b[min(1, len(tokens_b) - 1)]
        if "otoken" not in st.session_state and "otoken" not in st.query_params:
            st.session_state["otoken"] = first_b
        token_b = ui.bound_select(
            f"Query token in sentence {b + 1}", tokens_b, "otoken", fallback=first_b, width=260
        )
    return tokens_a.index(token_a), tokens_b.index(token_b)


def compare_view(
    result: attn.SentenceAttention,
    a: int,
    b: int,
    layer: int,
    head: int,
    own_max: bool,
    shown: Callable,
    summary: str,
) -> tuple[int, int]:
    """Sentence ``a`` against sentence ``b``: a query token in each, word by word, every head.

    Returns the two query tokens' positions in their sentences (for the snippet)."""
    enc_a, enc_b = result.encodings[a], result.encodings[b]
    maps_a, tokens_a, renorm, pos_a = shown(result.of(a), enc_a)  # (L, H, n, n)
    maps_b, tokens_b, _, pos_b = shown(result.of(b), enc_b)
    qa, qb = pick_tokens(tokens_a, tokens_b, a, b)
    name = f"L{layer} H{head}"

    # each query's row, its tokens summed into words, so the two tokenisations need not match
    groups_a, groups_b = attn.word_groups(enc_a, pos_a), attn.word_groups(enc_b, pos_b)
    wa = attn.word_weights(maps_a[:, :, qa, :], groups_a)  # (L, H, Wa)
    wb = attn.word_weights(maps_b[:, :, qb, :], groups_b)  # (L, H, Wb)
    words_a, words_b = [w for w, _ in groups_a], [w for w, _ in groups_b]
    pairs = attn.align_words(words_a, words_b)
    distance = attn.row_distance(wa, wb, pairs)  # (L, H)
    labels_a = [f"{pos_a[idx[0]]} · {w}" for w, idx in groups_a]
    labels_b = [f"{pos_b[idx[0]]} · {w}" for w, idx in groups_b]
    home_a = next(k for k, (_, idx) in enumerate(groups_a) if qa in idx)
    home_b = next(k for k, (_, idx) in enumerate(groups_b) if qb in idx)
    query_a, query_b = word_of(tokens_a[qa]), word_of(tokens_b[qb])

    row_a, row_b = wa[layer, head], wb[layer, head]
    top = max(float(row_a.max()), float(row_b.max()), 1e-12)
    top = top if own_max or top > 1.0 else 1.0  # dropout can scale a kept weight above 1
    L, H = distance.shape
    heads = charts.matrix_panel(
        distance, [f"L{i}" for i in range(L)], [f"H{h}" for h in range(H)],
        f"Every head: how differently “{query_a}” (sentence {a + 1}) and “{query_b}” "
        f"(sentence {b + 1}) look{renorm}",
        zmax=max(1.0, float(distance.max())), scale="0 (alike) to 1 (no shared word)",
        axes=("head", "layer"), arrow="·", pick=(layer, head), file="attention_compare_heads",
    )  # fmt: skip
    panels = [
        charts.bars_panel(
            row_a, labels_a, f"Sentence {a + 1} · {name}: where “{query_a}” looks{renorm}",
            prefix=f"{query_a} → ", highlight=home_a, top=top,
            file=f"attention_s{a + 1}_L{layer}_H{head}_row",
        ),
        charts.bars_panel(
            row_b, labels_b, f"Sentence {b + 1} · {name}: where “{query_b}” looks{renorm}",
            prefix=f"{query_b} → ", highlight=home_b, top=top,
            file=f"attention_s{b + 1}_L{layer}_H{head}_row",
        ),
    ]  # fmt: skip
    shared = [(i, j) for i, j in pairs if i is not None and j is not None]
    if shared:
        alone_a = [words_a[i] for i, j in pairs if j is None]
        alone_b = [words_b[j] for i, j in pairs if i is None]
        note = None
        if alone_a or alone_b:
            note = (
                f"Not shared, so not in the difference: {', '.join(alone_a) or 'nothing'} "
                f"(sentence {a + 1}); {', '.join(alone_b) or 'nothing'} (sentence {b + 1})."
            )
        diff = np.array([row_b[j] - row_a[i] for i, j in shared])
        both = [
            f"{labels_a[i]}" if words_a[i].lower() == words_b[j].lower()
            else f"{labels_a[i]} / {words_b[j]}"
            for i, j in shared
        ]  # fmt: skip
        bound = float(np.abs(diff).max()) or 1e-6
        panels.append(
            charts.bars_panel(
                diff, both, f"Shared words · {name}: sentence {b + 1} − sentence {a + 1}",
                prefix="difference on ", top=bound, diverging=True,
                xlabel=f"weight difference (red: more in sentence {b + 1})", note=note,
                file=f"attention_compare_L{layer}_H{head}_difference",
            )
        )  # fmt: skip

    pick = partial(pick_head, "compare_heads")
    attention_canvas([heads], key="compare_heads", summary=summary, on_pick=pick)
    st.caption(
        "Per head: half the summed difference between the two rows on the words both sentences "
        "have, plus half of the weight on words only one has. 0: both tokens spread the same "
        "weights over the same words; 1: they share no word. Click a head to see its bars."
    )
    attention_canvas(panels, key="compare_token", summary=summary, min_width=260)
    whose = f"“{query_a}”" if query_a == query_b else f"“{query_a}” (or “{query_b}”)"
    st.caption(
        f"Each bar is the weight {whose} takes from a word, summed over the word's tokens, so "
        "sentences that split words differently still compare. Words are lined up where they "
        "are equal or swapped one for one (“cat / dog”)."
        + (" No word is shared, so there is no difference to draw." if not shared else "")
    )

    st.markdown(f"**Every query token: the two whole maps of {name}**")
    za, zb = maps_a[layer, head], maps_b[layer, head]
    top, scale = charts.weight_scale(np.concatenate([za.ravel(), zb.ravel()]), own_max)
    panels = [
        charts.matrix_panel(za, tokens_a, tokens_a, f"Sentence {a + 1} · {name}{renorm}",
                            zmax=top, scale=scale, file=f"attention_s{a + 1}_L{layer}_H{head}"),
        charts.matrix_panel(zb, tokens_b, tokens_b, f"Sentence {b + 1} · {name}{renorm}",
                            zmax=top, scale=scale, file=f"attention_s{b + 1}_L{layer}_H{head}"),
    ]  # fmt: skip
    if za.shape == zb.shape:
        pairs_t = zip(tokens_a, tokens_b, strict=True)
        both_t = [x if x == y else f"{x} / {word_of(y)}" for x, y in pairs_t]
        title = f"Difference: sentence {b + 1} − sentence {a + 1}"
        panels.append(charts.difference_panel(zb - za, both_t, both_t, title))
    attention_canvas(panels, key="compare", summary=summary, min_width=380)
    if za.shape != zb.shape:
        st.caption(
            f"No token-by-token difference map: sentence {a + 1} has {len(tokens_a)} tokens and "
            f"sentence {b + 1} has {len(tokens_b)}, so their rows and columns do not line up. "
            "The word-by-word comparison above does not need them to."
        )
    else:
        st.caption(
            f"Red: sentence {b + 1} puts more weight there, blue: less. Both maps share one "
            "colour scale."
        )
    return pos_a[qa], pos_b[qb]
