"""What a new user hit in the shell and on the Encode page (issue 7), one test per point."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import state
from app.charts.encode import similarity_heatmap
from app.compute import forward_flops
from app.ui import picker_labels, working_message
from encoder import EncoderConfig
from tests.test_app import assert_clean, new_app, table_frame, table_panel

ROOT = Path(__file__).resolve().parents[1]
EIGHT = "\n".join(f"Sentence number {i} is here" for i in range(1, 9))


def test_n_heads_keeps_a_fixed_default_so_the_link_carries_it():
    at = new_app(model="From scratch")
    at.select_slider(key="n_heads").set_value(8).run()
    at.text_area(key="text").set_value("cats chase mice").run()
    assert at.select_slider(key="n_heads").value == 8
    query = share_query_of(at)
    assert query["n_heads"] == "8" and query["text"] == "cats chase mice"


def share_query_of(at) -> dict:
    """The Share box's link, parsed."""
    from urllib.parse import parse_qs, urlsplit

    link = next(c.value for c in at.sidebar.code)
    return {k: v[-1] for k, v in parse_qs(urlsplit(link).query).items()}


def test_snapped_heads_land_in_the_link_with_the_value_on_screen():
    at = new_app(model="From scratch", d_model="48", n_heads="16")
    at.select_slider(key="d_model").set_value(24).run()  # 16 does not divide 24
    assert_clean(at)
    assert at.select_slider(key="n_heads").value == 12
    assert share_query_of(at)["n_heads"] == "12"
    fresh = new_app(**share_query_of(at))
    assert fresh.select_slider(key="n_heads").value == 12 and not fresh.main.warning


def test_sentence_picker_names_the_sentences_on_screen():
    at = new_app(text="The bank of the river was flooded\ncats chase mice")
    at.selectbox(key="sentence").set_value("2 · cats chase mice").run()
    assert share_query_of(at)["sentence"] == "2 · cats chase mice"
    at.text_area(key="text").set_value("cats chase mice\ndogs bark").run()
    picker = at.selectbox(key="sentence")
    assert picker.options == picker_labels(["cats chase mice", "dogs bark"])
    assert picker.value == "1 · cats chase mice"
    assert share_query_of(at)["sentence"] == "1 · cats chase mice"


def test_padded_batch_shows_tokens_ids_or_the_mask_as_numbers():
    at = new_app(text="a b\nc")
    grid = table_panel(at, "batch")
    assert grid["rows"][1] == [2, "[CLS]", "c", "[SEP]", "[PAD]"]  # text as written
    assert grid["styles"][1] == ["", "special", "", "special", "pad"]
    at.get("button_group")[0].set_value("mask").run()
    assert [r[1:] for r in table_panel(at, "batch")["rows"]] == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert share_query_of(at)["grid"] == "mask"
    at.get("button_group")[0].set_value("ids").run()
    assert table_panel(at, "batch")["rows"][1][1:] == [101, 1039, 102, 0]


def test_shape_and_parameter_tables_show_every_row_without_scrolling():
    at = new_app(model="From scratch", n_layers="12")
    assert_clean(at)
    shapes, params = table_frame(at, "shapes"), table_frame(at, "parameters")
    assert table_panel(at, "shapes")["height"] == 0  # whole, never scrolling
    stages = list(shapes["stage"])
    assert "each of 12 layers: attention" in stages  # text as written (no Markdown)
    assert not any("layer 7" in s for s in stages)
    assert "hidden_states[1 … 12]" in " ".join(shapes["what"])
    assert params["parameters"].iloc[1].endswith("× 12")
    assert not at.get("arrow_data_frame") and not at.table  # no Arrow tables on the page


def test_snippet_wraps_writes_every_sidebar_field_and_says_train_mode_once():
    at = new_app(model="From scratch", n_layers="6", train="true")
    code = at.main.code[-1]
    assert code.proto.wrap_lines
    for field in ("d_model=64,", "n_heads=4,", "n_layers=6,", "d_ff=256,", "dropout=0.1,"):
        assert field in code.value
    assert "max_len=128," in code.value and "norm_first=False," in code.value
    assert code.value.count(".train()") == 1 and ".eval()" not in code.value
    at.toggle(key="train").set_value(False).run()
    code = at.main.code[-1].value
    assert code.count(".eval()") == 1 and ".train()" not in code


def test_similarity_matrix_of_eight_sentences_fits_its_cells():
    sim = np.eye(8) * 0.5 + 0.5
    fig = similarity_heatmap(sim, [f"sentence {i} " * 6 for i in range(8)], "s")
    heat = fig.data[0]
    assert list(heat.x) == [str(i) for i in range(1, 9)]  # numbers only: no overlapping labels
    assert all(len(y) <= 30 for y in heat.y)
    assert heat.texttemplate == "%{z:.2f}" and heat.textfont.size == 12
    assert fig.layout.yaxis.automargin and heat.xgap == 1


def test_example_picker_names_the_loaded_example_and_typed_text_can_come_back():
    at = new_app()
    at.text_area(key="text").set_value("my own careful sentence").run()
    at.selectbox(key="example").set_value("Two meanings of bank").run()
    assert at.selectbox(key="example").value == "Two meanings of bank"  # not reset to blank
    assert at.text_area(key="text").value.startswith("She sat on the river bank.")
    at.button(key="restore_text").click().run()
    assert at.text_area(key="text").value == "my own careful sentence"
    assert at.selectbox(key="example").value is None  # the text is no longer an example
    assert not at.get("button") or all(b.key != "restore_text" for b in at.get("button"))


def test_link_warnings_sit_at_the_top_of_the_page():
    at = new_app(colour="red")
    kinds = [el.type for el in at.main]
    assert kinds.index("warning") < kinds.index("title")  # above the page, not in the sidebar
    assert "is not a setting of this page" in at.main.warning[0].value


def test_the_favicon_ships_with_the_app():
    source = (ROOT / "app" / "main.py").read_text()
    assert ":material/hub:" not in source.split("st.set_page_config", 1)[1].split(")", 1)[0]
    with Image.open(ROOT / "assets" / "favicon.png") as icon:
        assert icon.format == "PNG" and icon.size[0] >= 64


def test_license_is_an_spdx_string():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT"


@pytest.mark.parametrize("secs,says", [(0.2, "under a second"), (9.6, "about 10 s")])
def test_long_work_says_what_it_computes_and_how_long(secs, says):
    cfg = EncoderConfig(d_model=768, n_heads=12, n_layers=12, d_ff=4096, max_len=512)
    choice = state.ModelChoice(state.SCRATCH, cfg, 0, False, 512)
    message = working_message(choice, 8, 512, secs)
    assert message.startswith("Encoding 8 sentences of 512 tokens through 12 layers")
    assert says in message
    # the estimate grows with the work: 8 x 512 tokens through the largest model ~ 0.9 TFLOP
    assert 5e11 < forward_flops(cfg, 8, 512) < 2e12


def test_a_rerun_keeps_the_page_readable():
    at = new_app()
    assert_clean(at)
    css = " ".join(h.proto.body for h in at.get("html"))
    assert "[data-stale='true']" in css and "opacity: 0.75" in css


def test_seed_is_named_for_what_it_does_and_captions_name_it_only_for_random_weights():
    at = new_app(model="From scratch", seed="5")
    assert at.number_input(key="seed").label == "Seed (weights and dropout)"
    assert "seed 5" in at.main.caption[0].value
    at.radio(key="model").set_value("Trained").run()
    assert at.number_input(key="seed").label == "Seed (dropout in train mode)"
    assert at.number_input(key="seed").value == 5  # kept across the switch
    assert "seed" not in at.main.caption[0].value  # trained weights do not come from it
