"""The standalone attention page in a real browser (Debian chromium, no network).

The page runs public/elements/AttentionView.jsx, the same code as the chat element, so this
also checks the view logic the chat uses: switching layer and head changes the lines and
the label, hovering a token keeps only its lines, the heatmap and the head grid work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tools.attention import extract_attention, render_html, view_props

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    result = extract_attention(Settings(), "The cat sat on the mat.", "It was tired.")
    props = view_props(result, 0, 2, 128)
    path = tmp_path_factory.mktemp("attention") / "attention.html"
    path.write_text(render_html(props), encoding="utf-8")
    return path, props


@pytest.fixture
def page_and_errors() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives each browser a fresh temporary profile.
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 820, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield page, errors
        browser.close()


def line_opacities(page) -> list[str]:
    return page.eval_on_selector_all(
        '[data-testid="attention-lines"] line',
        "ls => ls.map(l => l.getAttribute('stroke-opacity'))",
    )


def test_switch_layer_and_head_hover_and_heatmap(
    page_and_errors, page_file, tmp_path: Path
) -> None:
    path, props = page_file
    page, errors = page_and_errors
    page.goto(path.as_uri())
    lines = page.get_by_test_id("attention-lines")
    label = page.get_by_test_id("head-label")
    assert label.inner_text() == "previous-token head"
    assert (lines.get_attribute("data-layer"), lines.get_attribute("data-head")) == ("0", "2")
    assert page.get_by_test_id("head-2").get_attribute("aria-pressed") == "true"
    before = line_opacities(page)
    assert before and len(page.locator('[data-testid="token-from-0"]').all()) == 1

    page.get_by_test_id("layer-1").click()
    page.get_by_test_id("head-8").click()
    assert (lines.get_attribute("data-layer"), lines.get_attribute("data-head")) == ("1", "8")
    assert label.inner_text() == props["summaries"][1][8]["label"] == "next-token head"
    assert page.get_by_test_id("head-title").inner_text().startswith("Layer 1, head 8")
    after = line_opacities(page)
    assert after != before
    page.screenshot(path=str(tmp_path / "attention-lines.png"), full_page=True)

    # Hovering "cat" (token 2) keeps only the lines from it, and names its strongest link.
    page.get_by_test_id("token-from-2").hover()
    hovered = int(lines.get_attribute("data-lines"))
    assert 0 < hovered < len(after)
    assert page.get_by_test_id("hover-text").inner_text().startswith("“cat” attends most to")
    page.mouse.move(5, 5)
    assert int(lines.get_attribute("data-lines")) == len(after)

    # The head grid selects a head too, and the heatmap draws the same head.
    page.get_by_test_id("cell-4-5").click()
    assert label.inner_text() == props["summaries"][4][5]["label"]
    page.get_by_test_id("mode-heatmap").click()
    heatmap = page.get_by_test_id("attention-heatmap")
    assert (heatmap.get_attribute("data-layer"), heatmap.get_attribute("data-head")) == ("4", "5")
    assert heatmap.locator("rect").count() > len(props["tokens"])
    page.screenshot(path=str(tmp_path / "attention-heatmap.png"), full_page=True)
    assert errors == []
