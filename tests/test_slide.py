"""The one-slide summary: exactly one slide in slide.pptx and slide.html, key numbers from the report."""

from __future__ import annotations

import re
import struct

import pytest
from pptx import Presentation
from render_support import hostile_build

from analysis.publish import privacy, slide

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    return hostile_build(tmp_path_factory.mktemp("hostile-public"))


def _slide_text(presentation) -> str:
    return "\n".join(
        shape.text_frame.text for shape in presentation.slides[0].shapes if shape.has_text_frame
    )


def test_exactly_one_slide_with_a_picture(built) -> None:
    config, _, _ = built
    presentation = Presentation(str(config.paths.site_dir / "slide.pptx"))
    assert len(presentation.slides) == 1
    assert any(shape.shape_type == 13 for shape in presentation.slides[0].shapes)  # picture
    slide_html = (config.paths.site_dir / "slide.html").read_text(encoding="utf-8")
    assert slide_html.count("<section") == 1


def test_key_numbers_from_the_report(built) -> None:
    config, report, _ = built
    text = " ".join(_slide_text(Presentation(str(config.paths.site_dir / "slide.pptx"))).split())
    for number in slide.SLIDE_QUESTIONS:
        headline = privacy.mask_text(report.results[number].headline())
        for value in re.findall(r"\d[\d,.]*\d|\d", headline)[:3]:
            assert value in text, (number, value, headline)
    assert "Simulated data" in text


def test_slide_png_is_a_1280x720_screenshot(built) -> None:
    config, _, summary = built
    data = (config.paths.site_dir / "slide.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    if not summary.notes:  # chromium present: a real screenshot
        assert (width, height) == (1280, 720)
