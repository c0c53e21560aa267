"""The Positions page in Chromium: each view, a new shuffle, a link, screenshots at two widths."""

from __future__ import annotations

import pytest

from tests.browser import (
    ARTIFACTS,
    full_screenshot,
    open_page,
    require_chromium,
    wait_idle,
    wait_painted,
)

pytestmark = pytest.mark.browser
MAIN = '[data-testid="stMain"]'
# how many plotly charts each view draws
CHARTS = {
    "Curves": 1,
    "Table": 1,
    "Similarity": 2,
    "Rotation": 2,
    "Sizes": 1,
    "Learned vs fixed": 7,
    "Order test": 1,
}

require_chromium()


def sideways(page) -> int:
    return page.evaluate(
        f"() => document.querySelector('{MAIN}').scrollWidth"
        f" - document.querySelector('{MAIN}').clientWidth"
    )


def metric_values(page) -> list[str]:
    return [
        m.inner_text().strip() for m in page.locator(f'{MAIN} [data-testid="stMetricValue"]').all()
    ]


def test_every_view_draws_without_errors(server, browser):
    context, page = open_page(browser, f"{server}/positional", height=1000)
    for view, charts in CHARTS.items():
        page.locator(MAIN).get_by_role("radio", name=view, exact=True).click()
        wait_idle(page)
        wait_painted(page, plotly=charts)
        assert page.locator('[data-testid="stException"]').count() == 0, view
        assert f"pe_view={view.replace(' ', '+')}" in page.url or view == "Curves"
    context.close()


def test_new_shuffle_changes_the_seed_in_the_link_and_the_link_reproduces_it(server, browser):
    text = "the dog bites the man in the park"
    context, page = open_page(
        browser, f"{server}/positional?pe_view=Order+test&text={text}", height=1000
    )
    wait_painted(page, plotly=1)
    before = page.locator(f'{MAIN} [data-testid="stText"]').nth(1).inner_text()
    page.get_by_role("button", name="New shuffle").click()
    page.wait_for_function("() => location.search.includes('pe_shuffle=1')", timeout=60_000)
    wait_idle(page)
    wait_painted(page, plotly=1)
    after = page.locator(f'{MAIN} [data-testid="stText"]').nth(1).inner_text()
    assert after != before and after.startswith("shuffled:")
    numbers = metric_values(page)
    assert float(numbers[0]) < 1e-4 < 0.05 < float(numbers[1])  # noise without, change with
    link = page.url
    context.close()

    context, fresh = open_page(browser, link, height=1000)
    wait_painted(fresh, plotly=1)
    assert fresh.locator(f'{MAIN} [data-testid="stText"]').nth(1).inner_text() == after
    assert metric_values(fresh) == numbers
    context.close()


@pytest.mark.parametrize("width", [1024, 1920])
@pytest.mark.parametrize(
    "view,query",
    [
        ("Similarity", "pe_view=Similarity&pe_base=10"),
        ("Rotation", "pe_view=Rotation&pe_d=16&pe_k=3"),
        ("Learned vs fixed", "pe_view=Learned+vs+fixed"),
        ("Order test", "pe_view=Order+test&model=From+scratch&text=dog+bites+man%0Aman+bites+dog"),
        ("Curves", "pe_view=Curves"),
        ("Sizes", "pe_view=Sizes&model=From+scratch"),
    ],
)
def test_screenshots(server, browser, width, view, query):
    context, page = open_page(browser, f"{server}/positional?{query}", width, height=1000)
    wait_painted(page, plotly=CHARTS[view])
    assert page.locator('[data-testid="stException"]').count() == 0
    overflow = sideways(page)
    assert overflow <= 0, f"{view} scrolls sideways by {overflow} px at {width} px"
    ARTIFACTS.mkdir(exist_ok=True)
    name = view.lower().replace(" ", "_")
    full_screenshot(page, ARTIFACTS / f"positional_{name}_{width}.png")
    if view == "Similarity":  # the page's headline screenshot
        full_screenshot(page, ARTIFACTS / f"positional_{width}.png")
    context.close()
