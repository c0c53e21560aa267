"""Pure chart builders and the app's small helpers: arrays in, figures out."""

from __future__ import annotations

import numpy as np
import pytest

from app.charts import attention as attention_charts
from app.charts import encode as charts
from app.snippets import config_source
from app.state import closest, head_options, split_sentences
from encoder import EncoderConfig
from encoder.analysis import cosine_matrix, mean_pool


def test_token_heatmap_labels_are_unique_escaped_and_rows_follow_tokens():
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4) - 6
    fig = charts.token_vector_heatmap(vectors, ["the", "<b>", "the"], "t")
    heat = fig.data[0]
    assert list(heat.y) == ["0 · the", "1 · &lt;b&gt;", "2 · the"]
    np.testing.assert_array_equal(heat.z, vectors)
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    assert fig.layout.yaxis.autorange == "reversed"  # first token on top, like a table


def test_similarity_heatmap_writes_the_values():
    sim = np.array([[1.0, 0.25], [0.25, 1.0]])
    fig = charts.similarity_heatmap(sim, ["a sentence", "x" * 80], "s")
    heat = fig.data[0]
    assert heat.zmin == -1 and heat.zmax == 1
    assert heat.y[1].endswith("…") and len(heat.y[1]) < 40
    assert list(heat.x) == ["1", "2"]  # columns carry the number only, so eight still fit


@pytest.mark.parametrize("norm_first", [False, True])
def test_architecture_follows_the_config(norm_first):
    cfg = EncoderConfig(d_model=96, n_heads=6, n_layers=3, d_ff=200, norm_first=norm_first)
    dot = charts.architecture_dot(cfg, "model")
    assert "6 heads × 16 dims" in dot and "96 → 200 → 96, RELU" in dot and "× 3 layers" in dot
    assert ("Final LayerNorm" in dot) == norm_first
    assert dot.count("{") == dot.count("}")


def test_bert_diagram_shows_token_types_and_embedding_norm():
    cfg = EncoderConfig(type_vocab_size=2, embedding_norm=True, positional="learned")
    dot = charts.architecture_dot(cfg, "bert")
    assert "token types (2)" in dot and "LayerNorm" in dot and "learned positions" in dot


def test_mean_pool_ignores_padding_and_cosine_is_bounded():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]])
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(mean_pool(hidden, mask), [[2.0, 0.0]])
    sim = cosine_matrix(np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(sim[:3, :3], [[1, 1, -1], [1, 1, -1], [-1, -1, 1]])
    assert np.isfinite(sim).all()


def test_sidebar_helpers():
    assert head_options(24) == [1, 2, 3, 4, 6, 8, 12]
    assert closest([2, 4, 8], 3) == 2 and closest([2, 4, 8], 7) == 8
    assert split_sentences("  a \n\n b\n   \n") == (["a", "b"], 2)
    assert split_sentences("\n".join("x" * 20)) == (["x"] * 8, 20)


def test_config_source_names_every_sidebar_field_and_other_changes():
    source = config_source(EncoderConfig())
    assert "n_layers=6," in source and "d_model=512," in source  # equal to the defaults
    assert "vocab_size" not in source
    cfg = EncoderConfig(d_model=64, n_heads=4, activation="gelu", layer_norm_eps=1e-6)
    assert eval(config_source(cfg)) == cfg and "layer_norm_eps=1e-06" in config_source(cfg)


def test_bar_ticks_are_round_and_cover_the_range():
    assert attention_charts.ticks(0, 1) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert attention_charts.ticks(-0.217, 0.217) == [-0.2, 0.0, 0.2]
    assert attention_charts.ticks(0, 0.003) == [0.0, 0.001, 0.002, 0.003]


def test_bars_panel_is_json_numbers_on_a_shared_or_symmetric_scale():
    bars = attention_charts.bars_panel(np.array([0.25, 0.75]), ["0 · a", "1 · b"], "t")
    assert (bars["lo"], bars["hi"], bars["values"]) == (0.0, 1.0, [0.25, 0.75])
    diff = attention_charts.bars_panel(np.array([-0.1, 0.05]), ["a", "b"], "d", top=0.1,
                                       diverging=True)  # fmt: skip
    assert (diff["lo"], diff["hi"]) == (-0.1, 0.1) and 0.0 in diff["ticks"]


def test_a_map_of_every_head_can_be_picked_from():
    z = np.zeros((2, 3))
    panel = attention_charts.matrix_panel(z, ["L0", "L1"], ["H0", "H1", "H2"], "t", pick=(1, 2))
    assert panel["pick"] and panel["selected"] == [1, 2]
    assert not attention_charts.matrix_panel(z, ["a", "b"], ["a", "b", "c"], "t")["pick"]
