"""AppTest: the Positions page's numbers against the library, every view, both models, links."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from streamlit.testing.v1 import AppTest

from app.compute import positional as pc
from encoder import Encoder, EncoderConfig
from encoder.analysis import cosine_matrix
from encoder.positional import relative_rotation, sinusoidal_table, wavelengths
from encoder.pretrained import load_minilm
from tests.test_app import MAIN, array, assert_clean, plotly_specs

SCRATCH = dict(model="From scratch", d_model="32", n_heads="4", n_layers="2", d_ff="64")


def page(**params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("views/positional.py").run()
    assert_clean(at)
    return at


def figure(at: AppTest, title: str) -> dict:
    """The plotly spec whose title starts with ``title``."""
    found = [s for s in plotly_specs(at) if s["layout"]["title"]["text"].startswith(title)]
    assert len(found) == 1, [s["layout"]["title"]["text"] for s in plotly_specs(at)]
    return found[0]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def page_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.main.markdown)


def snippet(at: AppTest) -> str:
    (code,) = [c.value for c in at.code if c.language == "python"]
    return code


def exec_snippet(at: AppTest) -> dict:
    namespace: dict = {}
    code = snippet(at).replace("print(", "(lambda *a: None)(")
    exec(compile(code, "snippet", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def minilm() -> Encoder:
    return load_minilm().model


# ---- the sinusoidal views -------------------------------------------------------------------


def pairs(at: AppTest) -> list[int]:
    return [at.slider(key=f"pe_pair{i}").value for i in (1, 2, 3)]


def markers(fig: dict) -> list[dict]:
    """The curves' table values at whole positions (each dim also has its continuous line)."""
    return [t for t in fig["data"] if t["mode"] == "markers"]


def lines(fig: dict) -> list[dict]:
    return [t for t in fig["data"] if t["mode"] == "lines"]


def test_curves_draw_the_continuous_wave_through_the_tables_markers():
    """Dims 0 and 1 (λ = 2π ≈ 6.28 positions) sampled only at whole positions made a zig-zag."""
    at = page(pe_d="64", pe_len="32", pe_base="100")
    fig = figure(at, "PE(position, dim)")
    table = sinusoidal_table(32, 64, 100).numpy()
    lam = wavelengths(64, 100).numpy()
    assert [t["name"] for t in lines(fig)] == [t["name"] for t in markers(fig)]
    for line in lines(fig):
        j = int(line["name"].split()[1])
        x, y = array(line["x"]), array(line["y"])
        assert x[0] == 0 and x[-1] == 31
        assert np.diff(x).max() <= lam[0] / 25  # ≥ 25 samples per cycle of the fastest wave
        whole = np.isin(x, np.arange(32))
        assert whole.sum() == 32
        # the table is the same float64 formula rounded to float32: half a float32 ulp of
        # values in [-1, 1] is at most 2**-25
        np.testing.assert_allclose(y[whole], table[:, j], rtol=0, atol=2**-25)
        wave = np.sin if j % 2 == 0 else np.cos
        np.testing.assert_allclose(y, wave(2 * np.pi * x / lam[j]), rtol=0, atol=1e-12)
    fast = lines(fig)[0]  # dim 0: between positions 1 and 2 it peaks at 1, above both dots
    x, y = array(fast["x"]), array(fast["y"])
    between = (x > 1) & (x < 2)
    assert y[between].max() > 0.99 > max(table[1, 0], table[2, 0])


def test_curves_default_to_a_fast_a_middle_and_a_slow_pair():
    at = page()
    assert at.segmented_control(key="pe_view").value == "Curves"
    assert pairs(at) == [0, 32, 64]
    fig = figure(at, "PE(position, dim)")
    table = sinusoidal_table(128, 128).numpy()
    lam = wavelengths(128).numpy()
    for trace in markers(fig):  # the markers are the table itself
        j = int(trace["name"].split()[1])
        np.testing.assert_array_equal(array(trace["x"]), np.arange(128))
        np.testing.assert_array_equal(array(trace["y"]), table[:, j])
        assert f"λ {lam[j]:.3g}" in trace["name"]
    names = [t["name"] for t in markers(fig)]
    assert names[0] == "dim 0 · sin · λ 6.28" and names[-1] == "dim 65 · cos · λ 628"
    ns = exec_snippet(at)
    assert ns["dims"] == [0, 1, 32, 33, 64, 65]
    np.testing.assert_array_equal(ns["curves"].numpy(), table[:, ns["dims"]])


def test_a_new_width_picks_new_default_pairs_and_bad_pairs_in_a_link_fall_back():
    at = page(pe_pair1="6", pe_pair2="999", pe_pair3="9")
    assert pairs(at) == [6, 32, 9]  # 999 is past the table: the default instead
    assert "pe_pair2 = “999” is not a valid choice" in at.main.warning[0].value
    names = [t["name"].rsplit(" · ", 1)[0] for t in markers(figure(at, "PE(position"))]
    assert names == [
        "dim 6 · sin",
        "dim 7 · cos",
        "dim 9 · cos",  # a hand-edited odd start draws that cosine and the next sine
        "dim 10 · sin",
        "dim 32 · sin",
        "dim 33 · cos",
    ]
    at = page()
    at.slider(key="pe_pair3").set_value(100).run()
    at.slider(key="pe_d").set_value(256).run()  # a new width gets its own default pairs
    assert_clean(at)
    assert pairs(at) == [0, 64, 128]
    at.segmented_control(key="pe_view").set_value("Table").run()
    at.slider(key="pe_d").set_value(64).run()  # also when changed in another view
    at.segmented_control(key="pe_view").set_value("Curves").run()
    assert_clean(at)
    assert pairs(at) == [0, 16, 32]


def test_a_link_with_the_default_pairs_raises_no_warning():
    at = page(pe_pair1="0", pe_pair2="32", pe_pair3="64", pe_d="128", pe_view="Curves")
    assert not at.main.warning


def test_table_heatmap_is_the_library_table():
    at = page(pe_view="Table", pe_d="24", pe_len="32", pe_base="100")
    z = array(figure(at, "PE: 32 positions × 24 dims")["data"][0]["z"])
    np.testing.assert_array_equal(z, sinusoidal_table(32, 24, 100.0).numpy())
    np.testing.assert_array_equal(exec_snippet(at)["pe"].numpy(), z)


def test_similarity_depends_on_the_offset_only():
    at = page(pe_view="Similarity", pe_d="64", pe_len="64", pe_start="40")
    table = sinusoidal_table(64, 64).numpy()
    z = array(figure(at, "PE(p) · PE(q)")["data"][0]["z"])
    np.testing.assert_allclose(z, table @ table.T, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(np.diag(z), 32.0, atol=1e-4)  # d/2: sin² + cos² per pair
    lines = figure(at, "PE(p) · PE(p + k)")["data"]
    longer = sinusoidal_table(40 + 64, 64).double()
    k = torch.arange(64)
    for trace, p in zip(lines, (0, 40), strict=True):
        expected = (longer[p + k] @ longer[p]).numpy()
        np.testing.assert_allclose(array(trace["y"]), expected, atol=1e-4)
    gap = np.abs(array(lines[0]["y"]) - array(lines[1]["y"])).max()
    assert gap < 1e-4  # the profiles lie on top of each other
    assert f"differ by at most {gap:.2e}" in at.main.caption[-1].value
    ns = exec_snippet(at)
    assert float(np.abs(ns["from_0"] - ns["from_start"]).max()) < 1e-4


def test_a_small_base_says_why_the_profile_comes_back():
    at = page(pe_view="Similarity", pe_base="10")
    lam = float(wavelengths(128, 10.0)[-1])
    assert f"repeats every {lam:.3g} positions" in at.info[0].value
    assert not page(pe_view="Similarity").info  # base 10000: the slowest wave is 54,400 long


@pytest.mark.parametrize("d,k,base", [(128, 1, 10000), (16, 3, 10), (64, 200, 100)])
def test_rotation_matrix_and_its_worst_error_match_the_library(d, k, base):
    at = page(pe_view="Rotation", pe_d=str(d), pe_len="128", pe_base=str(base), pe_k=str(k))
    rot = relative_rotation(d, k, float(base))
    np.testing.assert_array_equal(array(figure(at, f"M_{k}: {d} × {d}")["data"][0]["z"]), rot)
    corner = array(figure(at, "Top-left 8 × 8")["data"][0]["z"])
    np.testing.assert_array_equal(corner, rot[:8, :8].numpy())
    longer = sinusoidal_table(128 + k, d, float(base))
    worst = float((longer[k:] - longer[:128] @ rot.T).abs().max())
    assert worst < 1e-4  # float32 precision
    (label,) = [m for m in metrics(at) if m.startswith("Worst error")]
    assert metrics(at)[label] == f"{worst:.2e}" and "over all p in 0 … 127" in label
    assert float(exec_snippet(at)["err"]) == worst


def test_odd_d_model_on_the_slider_says_why_there_is_no_rotation():
    at = page(pe_view="Rotation")
    at.slider(key="pe_d").set_value(17).run()
    assert_clean(at)
    (warning,) = at.warning
    assert "must be even: the last sine column has no cosine partner" in warning.value
    assert "Pick an even d_model" in warning.value
    assert "d_model 17 is odd" in at.info[0].value
    assert "no M" in snippet(at)
    exec_snippet(at)  # still runs
    at.segmented_control(key="pe_view").set_value("Curves").run()  # odd widths draw fine here
    assert_clean(at)
    assert pairs(at) == [0, 4, 8]
    assert len(markers(figure(at, "PE(position"))) == 6
    at.segmented_control(key="pe_view").set_value("Similarity").run()
    assert "unpaired last column" in at.main.caption[-1].value


def test_page_controls_survive_switching_views():
    at = page(pe_view="Table")
    at.slider(key="pe_d").set_value(48).run()
    at.segmented_control(key="pe_view").set_value("Sizes").run()
    at.segmented_control(key="pe_view").set_value("Rotation").run()
    assert at.slider(key="pe_d").value == 48
    assert figure(at, "M_1: 48 × 48")


# ---- sizes ----------------------------------------------------------------------------------


def box_medians(at: AppTest) -> dict[str, float]:
    box = figure(at, "Norms over")["data"][0]
    return dict(zip(box["y"], box["median"], strict=True))


def test_sizes_of_the_pretrained_model(minilm):
    at = page(pe_view="Sizes")
    token = torch.linalg.vector_norm(minilm.tok_embed.weight.detach(), dim=1).numpy()
    pos = torch.linalg.vector_norm(minilm.pos.embed.weight.detach(), dim=1).numpy()
    medians = box_medians(at)
    assert medians["token embedding"] == pytest.approx(np.median(token), rel=1e-6)
    assert medians["token embedding × √384"] == pytest.approx(np.median(token) * 384**0.5)
    assert medians["learned position vector"] == pytest.approx(np.median(pos), rel=1e-6)
    assert "MiniLM does not scale" in page_text(at)
    ns = exec_snippet(at)
    assert float(ns["position"].quantile(0.5)) == pytest.approx(np.median(pos), rel=1e-5)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_sizes_of_a_from_scratch_model(positional):
    at = page(pe_view="Sizes", positional=positional, **SCRATCH)
    model = Encoder(EncoderConfig(**sidebar_config(positional)), seed=0)
    token = torch.linalg.vector_norm(model.tok_embed.weight.detach(), dim=1).numpy()
    pos = torch.linalg.vector_norm(model.pos(128).detach(), dim=1).numpy()
    medians = box_medians(at)
    assert medians["token embedding"] == pytest.approx(np.median(token), rel=1e-6)
    assert medians[f"{positional} position vector"] == pytest.approx(np.median(pos), rel=1e-6)
    if positional == "sinusoidal":
        assert medians["sinusoidal position vector"] == pytest.approx(4.0, rel=1e-5)  # √(32/2)
    assert "multiplies token embeddings by √d_model" in page_text(at)
    assert (
        metrics(at)["Median ‖token embedding × √32‖ (√32 ≈ 5.66)"]
        == f"{np.median(token) * 32**0.5:.3g}"
    )


def sidebar_config(positional: str) -> dict:
    return dict(
        d_model=32, n_heads=4, n_layers=2, d_ff=64, dropout=0.1, max_len=128, positional=positional
    )


# ---- learned vs fixed -----------------------------------------------------------------------


def test_learned_positions_beside_the_sinusoidal_table(minilm):
    at = page(pe_view="Learned vs fixed", pe_len="64", pe_base="10000")
    learned = minilm.pos.embed.weight.detach().numpy()[:64]
    fixed = sinusoidal_table(64, 384).numpy()
    np.testing.assert_array_equal(array(figure(at, "learned: 64 × 384")["data"][0]["z"]), learned)
    np.testing.assert_array_equal(array(figure(at, "sinusoidal: 64 × 384")["data"][0]["z"]), fixed)
    sim = array(figure(at, "learned: cosine")["data"][0]["z"])
    np.testing.assert_allclose(sim, cosine_matrix(learned), atol=1e-6)
    for name, table in (("learned", learned), ("sinusoidal", fixed)):
        trace = figure(at, f"{name}: 2-D PCA")["data"][1]
        ours = np.stack([array(trace["x"]), array(trace["y"])], axis=1)
        ref = PCA(n_components=2).fit(table[1:].astype(np.float64))
        theirs = ref.transform(table[1:].astype(np.float64))
        np.testing.assert_allclose(np.abs(ours), np.abs(theirs), atol=1e-5)  # signs are free
        assert array(trace["marker"]["color"])[0] == 1  # position 0 is left out
    text = page_text(at)
    assert "**What differs.**" in text and "zig-zag" in text
    assert "‖·‖ 2.36" in text
    ns = exec_snippet(at)
    np.testing.assert_allclose(ns["similarity"][0], sim, atol=1e-6)
    c = pc.learned_vs_fixed(64, 10000.0)
    np.testing.assert_allclose(ns["share"], c.share_learned, rtol=1e-5)
    np.testing.assert_allclose(np.abs(ns["points"]), np.abs(c.pca_learned), atol=1e-5)
