"""The email: .eml with text + HTML (no script, CSS inlined), cid: images resolved, slide attached."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from render_support import hostile_build

from analysis.publish import privacy

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def message(tmp_path_factory: pytest.TempPathFactory):
    config, report, _ = hostile_build(tmp_path_factory.mktemp("hostile-public"))
    raw = (config.paths.build_dir / "email.eml").read_bytes()
    return config, report, email.message_from_bytes(raw, policy=policy.default)


def test_structure(message) -> None:
    config, report, msg = message
    assert msg.get_content_type() == "multipart/mixed"
    assert msg["To"] == config.site.email_to and msg["From"] == config.site.email_from
    assert "simulated" in msg["Subject"].lower()
    types = [part.get_content_type() for part in msg.walk()]
    assert "text/plain" in types and "text/html" in types and "multipart/related" in types


def test_html_has_no_script_and_inline_styles(message) -> None:
    _, _, msg = message
    body = msg.get_body(("html",)).get_content()
    assert not re.search(r"<script\b", body, re.I)
    assert "<style" not in body and 'style="' in body


def test_every_cid_resolves_to_an_attached_image(message) -> None:
    _, _, msg = message
    body = msg.get_body(("html",)).get_content()
    cids = set(re.findall(r'src="cid:([^"]+)"', body))
    assert cids
    images = {
        part["Content-ID"].strip("<>"): part
        for part in msg.walk()
        if part.get_content_maintype() == "image"
    }
    for cid in cids:
        assert cid in images
        assert images[cid].get_content()[:8] == b"\x89PNG\r\n\x1a\n"


def test_slide_is_attached(message) -> None:
    _, _, msg = message
    attachments = [part for part in msg.iter_attachments() if part.get_filename() == "slide.pptx"]
    assert len(attachments) == 1
    assert attachments[0].get_content()[:2] == b"PK"


def test_answers_and_numbers_match_findings(message) -> None:
    config, report, msg = message
    findings = report.to_json()
    text = " ".join(msg.get_body(("plain",)).get_content().split())
    for number in range(1, 9):
        answer = privacy.mask_text(findings["questions"][str(number)]["answer"])
        for value in re.findall(r"\d[\d,.]*\d|\d", answer):
            assert value in text, (number, value)
    assert config.site.base_url.rstrip("/") in text
    assert "slide" in text.lower() and "attached" in text.lower()
