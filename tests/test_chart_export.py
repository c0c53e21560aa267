"""Every chart's camera button saves a PNG at 3x its size on screen (issue 17, point 30).

The browser test (tests/test_encode_browser.py) clicks the button and measures the file; these
check that every page hands the same config to every chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.charts.common import EXPORT_CONFIG
from tests.test_app import MAIN, assert_clean

ROOT = Path(__file__).resolve().parents[1]
TWO = "A man is playing a guitar.\nThe stock market fell."


@pytest.mark.parametrize(
    "page, charts",
    [
        ("views/encode.py", 2),  # output vectors, sentence similarity
        ("views/projections.py", 3),  # projection, cosine matrix, anisotropy
        ("views/positional.py", 1),  # the curves
        ("views/padding.py", 6),  # the drift chart may still be computing
        ("views/inside_layer.py", 1),
    ],
)
def test_every_chart_on_the_page_exports_at_three_times_its_size(page, charts):
    at = AppTest.from_file(MAIN, default_timeout=180)
    at.query_params["text"] = TWO
    at.switch_page(page).run()
    assert_clean(at)
    found = at.get("plotly_chart")
    assert len(found) >= charts
    for chart in found:
        config = json.loads(chart.proto.config)
        assert config["toImageButtonOptions"] == {"format": "png", "scale": 3}, chart.proto.id


def test_every_plotly_chart_call_goes_through_the_one_helper():
    assert EXPORT_CONFIG["toImageButtonOptions"]["scale"] >= 2
    direct = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "app").rglob("*.py")
        if path.name != "ui.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bst\.plotly_chart\(", line)
    ]
    assert direct == [], f"call ui.plotly_chart instead (the PNG export's config): {direct}"
