"""What a link can carry (issue 17, points 2, 21 and 23): numbers out of any range, empty
choices and old or guessed page addresses, on every page, in AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import MAIN
from tests.test_hardening_pages import PAGES, assert_safe, said

NOTICE = "This link could not be followed exactly"
# numbers no widget takes: float() reads them all, int() of the first three raises, and
# int() of the last refuses more than 4,300 digits
BAD_NUMBERS = ["inf", "-inf", "1e400", "1e308", "nan", "9" * 5000]
BASE = {"model": "From scratch", "text": "one two three\nfour"}
# links that put every number control of a page on screen (sidebar ones included)
LINKS = {
    "encode": {},
    "attention": {},
    "positions curves": {"pe_view": "Curves"},
    "positions similarity": {"pe_view": "Similarity"},
    "positions rotation": {"pe_view": "Rotation"},
    "positions order test": {"pe_view": "Order test"},
    "layer by layer, t-SNE": {"method": "t-SNE"},
    "padding": {},
    "inside a layer": {},
    "train": {},
}
PAGE_OF = {"positions": "positional", "layer by layer": "projections", "inside a layer": "inside"}


def page_of(link: str) -> str:
    return next((page for name, page in PAGE_OF.items() if link.startswith(name)), link)


def open_link(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=240)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(PAGES[page])  # before the first run: resolved by the file's name
    return at.run()


def number_keys(at: AppTest) -> list[str]:
    """Every number control on screen, in the sidebar and on the page."""
    kinds = ("number_input", "slider", "select_slider")
    return sorted({w.key for kind in kinds for w in at.get(kind) if w.key})


def failed_box(at: AppTest) -> list[str]:
    return [e.value for e in at.get("error") if "Something went wrong" in e.value]


@pytest.mark.parametrize("link", LINKS)
def test_numbers_out_of_any_range_are_named_never_raised(link):
    page, shown = page_of(link), {**BASE, **LINKS[link]}
    keys = number_keys(open_link(page, **shown))
    assert "seed" in keys and ("tseed" in keys or link != "layer by layer, t-SNE")
    for value in BAD_NUMBERS:
        at = open_link(page, **shown, **dict.fromkeys(keys, value))
        assert_safe(at)  # no exception: neither the page's box nor Streamlit's own
        assert not failed_box(at), value
        notice = at.main.warning[0].value
        assert notice.startswith(NOTICE), notice
        for key in keys:  # each named with what the page shows instead
            assert f"{key} = “" in notice or f"“{key}”" in notice, (key, value, notice)
            assert at.query_params.get(key) != value  # and gone from the address bar


def test_a_whole_number_setting_says_which_numbers_it_takes():
    at = open_link("encode", model="From scratch", seed="inf")
    assert at.number_input(key="seed").value == 0
    assert (
        "seed = “inf” is not a valid choice (seed takes a whole number from 0 to "
        "2,147,483,647), so the page shows 0." in at.main.warning[0].value
    )


def test_numbers_in_range_are_kept_however_they_are_written():
    at = open_link("projections", method="t-SNE", tseed="1e3", seed="7.0")
    assert at.number_input(key="tseed").value == 1000 and at.number_input(key="seed").value == 7
    assert not at.main.warning


def test_a_number_control_that_appears_later_still_refuses_infinity():
    at = open_link("projections", tseed="inf")  # PCA: the t-SNE seed is not on screen yet
    assert "“tseed” is not a setting of this page" in said(at)
    next(b for b in at.get("button_group") if b.key == "method").set_value("t-SNE").run()
    assert_safe(at)
    assert at.number_input(key="tseed").value == 0


@pytest.mark.parametrize(
    "page,params,says",
    [
        (
            "projections",
            {"trace": "abc"},
            "trace = “abc” is not a valid choice, so the page shows none.",
        ),
        ("attention", {"view": ""}, "view is empty in the link, so the page shows Heads."),
        ("inside", {"step": ""}, "step is empty in the link, so the page shows 1 · Input."),
        ("projections", {"method": ""}, "method is empty in the link, so the page shows PCA."),
    ],
)
def test_empty_and_emptied_choices_are_named(page, params, says):
    at = open_link(page, **params)
    assert_safe(at)
    assert said(at).count(says) == 1, said(at)
    assert not said(at).rstrip().endswith("shows .")
    at.run()  # the notice is about the link: the next run (a click) no longer repeats it
    assert NOTICE not in said(at)


def test_an_empty_multiselect_in_a_link_is_no_problem():
    at = open_link("projections", trace="")
    assert_safe(at)
    assert NOTICE not in said(at)


TITLES = {
    "encode": "Encode",
    "attention": "Attention",
    "positional": "Positions",
    "projections": "Layer by layer",
    "padding": "Padding & masks",
    "inside": "Inside a layer",
    "train": "Train",
}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_file_opens_its_page_with_the_link_kept(page):
    # the page files' names are among the old addresses: opening one moves to the page's own
    # address with the query, before any widget ran (AppTest resolves a file by its name)
    at = open_link(page, model="From scratch", d_model="32")
    assert_safe(at)
    assert [t.value for t in at.title][:1] == [TITLES[page]]
    assert at.session_state["d_model"] == 32 and at.query_params["d_model"] == "32"
    assert NOTICE not in said(at)
    at.select_slider(key="d_model").set_value(48).run()  # later runs stay on the page
    assert [t.value for t in at.title][:1] == [TITLES[page]] and at.session_state["d_model"] == 48
    at.switch_page(PAGES[page]).run()  # after a first run too (matched by the file's path)
    assert [t.value for t in at.title][:1] == [TITLES[page]] and at.session_state["d_model"] == 48
    assert_safe(at)
