"""The week and review pages in a real browser (headless Chromium): no console errors, blocks, a real picture."""

from __future__ import annotations

from pathlib import Path

import pytest

from idealweek.render import COLOUR, ItemKind
from idealweek.render_svg import week_html, week_svg
from idealweek.review import ReviewRow, render_html
from tests.browser import Chromium, find_chromium, read_png
from tests.test_render_week import count, dst_plan


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; `make test` does it as root)")
    return Chromium(binary, tmp_path)


def rgb(hex_colour: str) -> bytes:
    return bytes.fromhex(hex_colour.lstrip("#"))


def test_week_html_renders_in_chromium(chromium: Chromium, tmp_path: Path) -> None:
    """The HTML week: no console messages, one DOM block per item of each kind, a colourful screenshot."""
    _p, view = dst_plan()
    page = tmp_path / "week.html"
    page.write_text(week_html(view), encoding="utf-8")
    dom = chromium.dump_dom(page)
    assert dom.console == []
    assert "<svg" in dom.dom
    for kind in ItemKind:
        assert dom.dom.count(f'data-kind="{kind.value}"') == count(kind, view), kind
    img = read_png(chromium.screenshot(page, tmp_path / "week.png", 1120, 900))
    assert (img.width, img.height) == (1120, 900)
    colours = img.colours()
    assert len(colours) > 50
    assert img.share_of(b"\xff\xff\xff") < 0.9
    assert rgb(COLOUR[ItemKind.PROTECTED]) in colours and rgb(COLOUR[ItemKind.MAKEUP]) in colours


def test_week_svg_renders_in_chromium(chromium: Chromium, tmp_path: Path) -> None:
    """The standalone SVG parses (no XML error page) and shows every kind's blocks."""
    _p, view = dst_plan()
    pic = tmp_path / "week.svg"
    pic.write_text(week_svg(view, standalone=True), encoding="utf-8")
    dom = chromium.dump_dom(pic)
    assert dom.console == []
    assert "parsererror" not in dom.dom and "error on line" not in dom.dom
    for kind in ItemKind:
        assert dom.dom.count(f'data-kind="{kind.value}"') == count(kind, view), kind
    img = read_png(chromium.screenshot(pic, tmp_path / "week-svg.png", 1120, 860))
    assert len(img.colours()) > 50 and rgb(COLOUR[ItemKind.FOCUS]) in img.colours()


def test_review_html_renders_in_chromium(chromium: Chromium, tmp_path: Path) -> None:
    """The review page: no console messages, one bar per week and series, bars visible in the screenshot."""
    rows = [
        ReviewRow(
            f"2026-W{40 + n}",
            750,
            750 - 30 * n,
            30 * n,
            15 * n,
            focus_target_min=480,
            focus_planned_min=480,
            focus_kept_min=480 - 20 * n,
            meeting_min=400 + n,
        )
        for n in range(6)
    ]
    page = tmp_path / "review.html"
    page.write_text(render_html(rows), encoding="utf-8")
    dom = chromium.dump_dom(page)
    assert dom.console == []
    for series in ("kept", "lost", "made_up", "focus_kept", "focus_planned"):
        assert dom.dom.count(f'data-series="{series}"') == 6, series
    img = read_png(chromium.screenshot(page, tmp_path / "review.png", 1000, 800))
    colours = img.colours()
    assert rgb(COLOUR[ItemKind.PROTECTED]) in colours and rgb(COLOUR[ItemKind.INTRUSION]) in colours
    assert img.share_of(b"\xff\xff\xff") < 0.95
