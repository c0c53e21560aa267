"""AppTest: the Encode page's snippet and chart export (issue 17, points 19 and 30)."""

from __future__ import annotations

import numpy as np

from tests.test_app import array, assert_clean, new_app, plotly_specs

GUITAR = "A man is playing a guitar.\nSomeone plays the guitar.\nThe stock market fell."


def run_snippet(at) -> dict:
    """Exec the page's Python (prints silenced); returns its namespace."""
    (code,) = [c.value for c in at.code if c.language == "python"]
    namespace: dict = {}
    exec(compile(code.replace("print(", "(lambda *a: None)("), "snippet", "exec"), namespace)
    return namespace


def page_similarity(at) -> np.ndarray:
    (spec,) = [s for s in plotly_specs(at) if s["layout"]["title"]["text"] == "sentence similarity"]
    return array(spec["data"][0]["z"])


def test_snippet_prints_the_pages_parameter_count_and_sentence_similarity():
    at = new_app(text=GUITAR)
    assert_clean(at)
    ns = run_snippet(at)
    assert f"{ns['n_parameters']:,}" == at.metric[0].value == "22,565,376"
    # the same arrays through the same numpy functions: equal to the last bit
    np.testing.assert_array_equal(ns["similarity"], page_similarity(at))


def test_snippet_similarity_matches_in_train_mode_with_a_scratch_model():
    at = new_app(
        text=GUITAR, model="From scratch", d_model="32", n_heads="4", n_layers="1", d_ff="64"
    )
    at.toggle(key="train").set_value(True).run()
    at.number_input(key="seed").set_value(5).run()
    assert_clean(at)
    ns = run_snippet(at)
    assert f"{ns['n_parameters']:,}" == at.metric[0].value
    np.testing.assert_array_equal(ns["similarity"], page_similarity(at))


def test_one_sentence_has_no_similarity_in_the_page_or_the_snippet():
    at = new_app(text="Just one sentence here.")
    ns = run_snippet(at)
    assert "similarity" not in ns and f"{ns['n_parameters']:,}" == at.metric[0].value
