"""The class's answers chart: every option in the step's order (the unpicked at 0), the right
ones green after the reveal; numbers as a histogram with the model's answer marked."""

from __future__ import annotations

from app.charts.classroom import ANSWERS, RIGHT, answers_figure


def test_a_bar_per_option_in_order_with_the_right_ones_green():
    fig = answers_figure({"b": 2, "c": 5}, ["a", "b", "c"], right={"c"})
    bar = fig.data[0]
    assert list(bar.x) == ["a", "b", "c"] and list(bar.y) == [0, 2, 5]
    assert list(bar.marker.color) == [ANSWERS, ANSWERS, RIGHT]
    assert list(bar.text) == ["", "2", "5"]
    assert fig.layout.yaxis.dtick == 1
    assert fig.layout.meta["name"] == "The class's answers (7)"


def test_an_answer_from_older_sentences_still_counts_and_labels_are_escaped():
    fig = answers_figure({"<b>x</b>": 1, "gone": 3}, ["<b>x</b>"])
    assert list(fig.data[0].x) == ["&lt;b&gt;x&lt;/b&gt;", "gone"]
    assert list(fig.data[0].y) == [1, 3]


def test_numbers_make_a_histogram_with_the_model_marked():
    fig = answers_figure({"0.5": 3, "0.75": 1, "1": 2}, None, answer=0.9, unit=" bits")
    hist = fig.data[0]
    assert sorted(hist.x) == [0.5, 0.5, 0.5, 0.75, 1.0, 1.0]
    assert fig.layout.shapes[0].x0 == 0.9
    assert fig.layout.xaxis.title.text == "answer (bits)"


def test_an_empty_class_and_a_big_one():
    assert list(answers_figure({}, ["a", "b"]).data[0].y) == [0, 0]
    assert answers_figure({"a": 300}, ["a"]).layout.yaxis.dtick == 50
