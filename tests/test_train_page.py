"""AppTest: the Train page trains on a tiny budget, shows its numbers, keeps the model when a run
is cut short, loads checkpoints back (refusing bad ones), and its models serve the other pages."""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from app.compute import train as jobs
from app.state import ASSETS
from encoder import checkpoint
from encoder.tasks import get_task
from encoder.train import Settings, attention_of
from tests.test_app import MAIN, array, assert_clean, plotly_specs

pytestmark = pytest.mark.slow
TINY = dict(task="copy-back", width="32", heads="2", layers="1", ffn="64", lr="0.01")
SHIPPED = ASSETS / "checkpoints"


def train_page(**params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=300)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("views/train.py").run()
    assert_clean(at)
    return at


def start(at: AppTest) -> AppTest:
    (button,) = [b for b in at.get("button") if b.proto.label == "Start training"]
    button.click().run()
    assert_clean(at)
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def tile(fig: dict, k: int, n: int) -> np.ndarray:
    """Tile k of a one-row charts.train.tiles figure (one heatmap, NaN gaps between tiles)."""
    z = array(fig["data"][0]["z"]).astype(float)
    return z[:n, k * (n + 1) : k * (n + 1) + n]


@pytest.fixture(scope="module")
def trained_app() -> AppTest:
    return start(train_page(steps="30", **TINY))


def test_start_trains_within_the_budget_and_shows_what_it_learned(trained_app):
    at = trained_app
    result = at.session_state[jobs.RESULT]
    shown = metrics(at)
    assert shown["Steps"] == "30" and result.steps == 30
    assert shown["Ended"] in ("stopped by the budget", "reached 99%")
    assert shown["Accuracy on 2,000 fresh examples"] == f"{result.accuracy:.1%}"
    curves, pair, grid, strip = plotly_specs(at)[:4]
    assert list(array(curves["data"][0]["x"])) == list(range(1, 31))
    task = get_task("copy-back")
    ckpt = checkpoint.from_bytes(result.weights)
    n = len(task.example.split())
    ideal = task.ideal_attention(ckpt.tokenizer().encode(task.example).ids)
    np.testing.assert_array_equal(tile(pair, 1, n), ideal)
    att = attention_of(ckpt.model, task, task.example)  # (1, 2, n, n): the library's numbers
    np.testing.assert_allclose(tile(grid, 0, n), att[0, 0], atol=1e-6)
    np.testing.assert_allclose(tile(grid, 1, n), att[0, 1], atol=1e-6)
    assert "copy-back · yours" in at.session_state[jobs.MODELS]
    assert strip["data"][0]["type"] == "heatmap"
    # the result stays in this session: its snapshot slider and "try it" box are not in the link
    linked = at.session_state["_linked_keys"]
    assert "snap" not in linked and "try" not in linked and "task" in linked


def test_the_snippet_reproduces_the_run(trained_app):
    code = trained_app.code[0].value
    assert "max_steps=30" in code and "get_task('copy-back')" in code
    printed = []
    exec(compile(code, "snippet", "exec"), {"print": lambda *a: printed.append(a)})
    accuracy = float(printed[0][0].split("accuracy ")[1].split()[0])
    assert accuracy == round(trained_app.session_state[jobs.RESULT].accuracy, 3)


def test_the_trained_model_is_offered_in_the_sidebar_and_serves_the_encode_page(trained_app):
    at = trained_app
    at.button(key="use_it").click().run()  # "Pick it in the sidebar"
    assert_clean(at)
    assert at.radio(key="model").value == "Trained"
    assert at.selectbox(key="trained").value == "copy-back · yours"
    at.button(key="task_inputs").click().run()
    at.switch_page("views/encode.py").run()
    assert_clean(at)
    assert not at.error
    (fig, *_) = plotly_specs(at)
    assert array(fig["data"][0]["z"]).shape == (8, 32)  # "3 1 4 1 5 9 2 6": 8 tokens, d 32
    assert at.caption[0].value.startswith("Trained: copy-back · yours · d_model 32")


@pytest.mark.parametrize("trained", [False, True])
def test_encode_snippet_for_a_shipped_trained_model_reproduces_the_page(trained):
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update(model="Trained", trained="sort", text="3 1 4\n2 7", train=str(trained))
    at.run()
    assert_clean(at)
    code = at.main.code[-1].value  # the Encode page's own "Reproduce this in Python"
    assert "checkpoint.load('assets/checkpoints/sort.safetensors')" in code
    namespace: dict = {}
    exec(compile(code, "snippet", "exec"), namespace)  # run from the repository root
    shown = array(plotly_specs(at)[0]["data"][0]["z"])
    np.testing.assert_allclose(shown, namespace["out"].last_hidden_state[0].numpy(), atol=1e-6)


def test_a_run_cut_short_keeps_its_last_model():
    """Stop, leaving the page or closing the tab interrupt the loop; the next run finds the job
    still marked running and keeps the model as it was after its last step."""
    at = train_page()
    job = jobs.start("copy-back", dict(d_model=16, n_heads=2, n_layers=1, d_ff=32), Settings())
    job.advance(0.0)
    job.advance(0.0)
    at.session_state[jobs.JOB] = job
    at.run()
    assert_clean(at)
    assert metrics(at)["Ended"] == "stopped" and metrics(at)["Steps"] == "2"
    assert job.status == "stopped"
    kept = checkpoint.from_bytes(at.session_state[jobs.MODELS]["copy-back · yours"])
    torch.testing.assert_close(kept.model.head.weight, job.trainer.model.head.weight)


def test_each_session_trains_its_own_model():
    a, b = train_page(steps="5", **TINY), train_page(steps="5", **{**TINY, "tseed": "1"})
    start(a), start(b)
    wa, wb = a.session_state[jobs.RESULT].weights, b.session_state[jobs.RESULT].weights
    assert wa != wb
    assert a.session_state[jobs.JOB].trainer.model is not b.session_state[jobs.JOB].trainer.model


@pytest.mark.parametrize("page", ["views/encode.py", "views/attention.py"])
def test_shipped_checkpoints_work_on_other_pages_without_training(page):
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params["model"] = "Trained"
    at.query_params["trained"] = "reverse"
    at.run()
    at.button(key="task_inputs").click().run()
    at.switch_page(page).run()
    assert_clean(at)
    assert not at.error
    assert at.caption[0].value.startswith("Trained: reverse · d_model 64 · 4 heads")


def test_text_a_task_cannot_read_gets_a_message_that_says_what_it_reads():
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params["model"] = "Trained"
    at.query_params["trained"] = "sort"
    at.run()
    assert_clean(at)
    (error,) = at.error
    assert "does not know the character(s)" in error.value
    assert "Use the task's inputs" in error.value
    assert "0 1 2 3 4 5 6 7 8 9" in at.sidebar.caption[-1].value or any(
        "0 1 2 3 4 5 6 7 8 9" in c.value for c in at.sidebar.caption
    )
    at.text_area(key="text").set_value("1 2 3 4 5 6 7 8 9").run()  # sort reads at most 8
    assert "reads at most 8" in at.error[0].value


def test_links_choose_a_shipped_model_and_bad_ones_fall_back():
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update(model="Trained", trained="sort", text="3 1 2")
    at.run()
    assert_clean(at)
    assert at.selectbox(key="trained").value == "sort" and not at.error
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update(model="Trained", trained="reverse · yours", text="3 1 2")
    at.run()
    assert_clean(at)
    assert at.selectbox(key="trained").value == "reverse"
    notes = " ".join(w.value for w in at.warning)
    assert "is not a valid choice, so the page shows reverse" in notes


def test_page_settings_come_from_the_link():
    at = train_page(task="sort", steps="50", lr="0.001", width="32", layers="3", tnorm="post-norm")
    assert at.selectbox(key="task").value == "sort"
    assert at.number_input(key="steps").value == 50
    assert at.select_slider(key="lr").value == 0.001
    assert at.select_slider(key="width").value == 32
    assert at.select_slider(key="layers").value == 3
    assert at.selectbox(key="tnorm").value == "post-norm"


def refusals() -> dict[str, tuple[bytes, str]]:
    good = (SHIPPED / "reverse.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8 : 8 + n])
    name = "encoder.layers.0.ff.linear1.weight"
    header[name]["shape"] = header[name]["shape"][::-1]
    raw = json.dumps(header).encode()
    pickled = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, pickled)
    return {
        "corrupt": (good[:5000], "points at bytes outside the file"),
        "pickle renamed": (pickled.getvalue(), "is a pickle"),
        "huge header": (struct.pack("<Q", 10**12) + good[8:], "declares a header of"),
        "mismatched shapes": (
            struct.pack("<Q", len(raw)) + raw + good[8 + n :],
            "has shape [64, 256], its config implies [256, 64]",
        ),
    }


def test_uploads_are_validated_and_a_refusal_changes_nothing():
    at = train_page()
    for case, (data, said) in refusals().items():
        at.file_uploader(key="upload").upload(f"{case}.safetensors", data).run()
        assert_clean(at)
        (error,) = at.error
        assert error.value.startswith("Not loaded, nothing changed") and said in error.value, case
        assert jobs.MODELS not in at.session_state and jobs.RESULT not in at.session_state
        at.file_uploader(key="upload").set_value(None).run()
    good = (SHIPPED / "sort.safetensors").read_bytes()
    at.file_uploader(key="upload").upload("mine.safetensors", good).run()
    assert_clean(at)
    assert at.session_state[jobs.MODELS] == {"sort · uploaded": good}
    assert at.subheader[0].value == "Result: sort · uploaded"
    assert metrics(at)["Ended"] == "uploaded"
    assert float(metrics(at)["Accuracy on 500 fresh examples"].rstrip("%")) > 98
    assert "Loaded mine\\.safetensors" in at.success[0].value
    (download,) = at.get("download_button")
    assert download.proto.label == "Download the checkpoint"


def test_model_size_starts_from_the_sidebars_from_scratch_settings():
    at = AppTest.from_file(MAIN, default_timeout=300)
    at.query_params.update(model="From scratch", d_model="32", n_layers="3", norm="post-norm")
    at.run()
    at.switch_page("views/train.py").run()
    assert_clean(at)
    assert at.select_slider(key="width").value == 32
    assert at.select_slider(key="layers").value == 3
    assert at.selectbox(key="tnorm").value == "post-norm"
    assert at.slider(key="drop").value == pytest.approx(0.1)  # the sidebar's dropout
