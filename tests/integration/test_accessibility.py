"""Every control of the widgets has a plain-text name a screen reader can read (headless checks;
tests/browser/test_browser.py reads the names Chromium's accessibility tree gives them)."""

from __future__ import annotations

import unicodedata

import ipywidgets as w
import pytest

from labapp.widgets import Dashboard


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _plain(text: str) -> bool:
    """Printable text with no private-use character (where icon fonts put their glyphs)."""
    return bool(text.strip()) and all(unicodedata.category(c) not in ("Co", "Cc", "Cs") for c in text)


@pytest.fixture
def dashboard(cluster):
    dash = Dashboard(cluster)
    yield dash
    dash.close()


def test_buttons_are_named_by_plain_text_and_draw_no_icon(dashboard):
    buttons = [x for x in _walk(dashboard) if isinstance(x, w.Button)]
    assert {b.description for b in buttons} >= {"Submit", "Submit 20", "Scale", "Kill a worker"}
    for button in buttons:
        # ipywidgets 8 draws icon= as a Font Awesome <i> whose glyph joins the accessible name
        assert not button.icon, f"{button.description!r} has icon={button.icon!r}"
        assert _plain(button.description), repr(button.description)


def test_every_input_has_a_description_and_no_unnamed_slider_is_used(dashboard):
    controls = [
        x for x in _walk(dashboard) if isinstance(x, w.ValueWidget) and not isinstance(x, (w.HTML, w.Label, w.Button))
    ]
    assert controls
    for control in controls:
        # ipywidgets' sliders give their handle (role=slider) no accessible name at all
        assert not isinstance(control, (w.IntSlider, w.FloatSlider, w.SelectionSlider)), control
        assert _plain(control.description), f"{type(control).__name__} without a description"
    assert dashboard.panel.size.description == "workers"
