"""The email: .eml with text + HTML (viewport, table layout <= 600 px, CSS inlined, no script), the top
findings first, cid: images resolved (a chart PNG >= 560 px wide), the slide attached; the link goes to the
configured site, and without one the build says so and the email names where the report is."""

from __future__ import annotations

import dataclasses
import email
import re
import struct
from email import policy

import pytest
from render_support import configured, hostile_build, hostile_snapshot, report_for

from analysis.publish import email as email_module
from analysis.publish import privacy
from analysis.questions import NUMBERS

SITE = "https://reports.curriculum-board.net/insights/"
LEADER = "Board chair <chair@curriculum-board.net>"
SENDER = "Curriculum insights <insights@curriculum-board.net>"
PLACEHOLDER = re.compile(r"example\.(org|com|net)|\.invalid\b|\.test\b", re.I)


def _parse(config):
    raw = (config.paths.build_dir / "email.eml").read_bytes()
    return raw, email.message_from_bytes(raw, policy=policy.default)


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory: pytest.TempPathFactory):
    """The default configuration: no site URL, no To/From."""
    config, report, summary = hostile_build(tmp_path_factory.mktemp("hostile-public"))
    return (config, report, summary, *_parse(config))


@pytest.fixture(scope="module")
def configured_site(tmp_path_factory: pytest.TempPathFactory):
    """A build with [site] base_url, email_to and email_from set."""
    from analysis.publish.render import render

    base = configured(tmp_path_factory.mktemp("email-site"))
    config = base.replace(
        site=dataclasses.replace(base.site, base_url=SITE, email_to=LEADER, email_from=SENDER)
    )
    report = report_for(hostile_snapshot(), config)
    summary = render(config, engine="pandoc", progress=False, report=report)
    return (config, report, summary, *_parse(config))


def _html(msg) -> str:
    return msg.get_body(("html",)).get_content()


def _text(msg) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


# --- unit: what counts as configured ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "usable"),
    [
        ("", False),
        ("https://curriculum-insights.example.org/", False),
        ("https://reports.example.com/x", False),
        ("http://localhost:8000/", False),
        ("https://site.test/", False),
        ("ftp://reports.school.edu/", False),
        ("https://reports.school.edu/insights/", True),
    ],
)
def test_site_url_ignores_placeholders(config, url: str, usable: bool) -> None:
    site = config.replace(site=dataclasses.replace(config.site, base_url=url))
    assert email_module.site_url(site) == (url if usable else "")
    notes = email_module.setup_notes(site)
    assert any("no link" in note for note in notes) != usable


def test_default_config_has_no_placeholder(config) -> None:
    assert (
        config.site.base_url == "" and config.site.email_to == "" and config.site.email_from == ""
    )
    notes = email_module.setup_notes(config)
    assert any("no site URL configured" in n for n in notes)
    assert any("no To: header" in n for n in notes) and any("no From: header" in n for n in notes)


# --- the rendered email ---------------------------------------------------------------------------------


@pytest.mark.render
def test_structure_and_headers(configured_site) -> None:
    _, _, summary, _, msg = configured_site
    assert msg.get_content_type() == "multipart/mixed"
    assert msg["To"] == LEADER and msg["From"] == SENDER
    assert re.fullmatch(r"<[^@<>\s]+@curriculum-board\.net>", msg["Message-ID"])  # sender's domain
    assert "simulated" in msg["Subject"].lower()
    types = [part.get_content_type() for part in msg.walk()]
    assert "text/plain" in types and "text/html" in types and "multipart/related" in types
    assert not any("email" in note or "site URL" in note for note in summary.notes), summary.notes


@pytest.mark.render
def test_the_configured_link_is_in_both_parts(configured_site) -> None:
    _, _, _, _, msg = configured_site
    assert f'href="{SITE}"' in _html(msg)
    assert SITE in _text(msg)


@pytest.mark.render
def test_without_a_site_url_the_build_warns_and_the_email_says_where(unconfigured) -> None:
    config, _, summary, _, msg = unconfigured
    assert any("no site URL configured" in note for note in summary.notes), summary.notes
    assert any("no To: header" in note for note in summary.notes), summary.notes
    assert msg["To"] is None and msg["From"] is None
    assert re.fullmatch(
        r"<[^@<>\s]+@curriculum-insights>", msg["Message-ID"]
    )  # never the host name
    text = _text(msg)
    # plainly where the report is, for a board member: not online yet (no build folder named)
    assert "has not been put online yet" in text and "attached" in text
    assert config.paths.site_dir.name not in text and "folder" not in text
    assert not re.search(r'href="https?://', _html(msg))


@pytest.mark.render
@pytest.mark.parametrize("build", ["unconfigured", "configured_site"])
def test_no_placeholder_domain_anywhere(build, request) -> None:
    _, _, _, raw, msg = request.getfixturevalue(build)
    parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    for text in [raw.decode("ascii", "replace"), *parts]:
        assert not PLACEHOLDER.search(text), PLACEHOLDER.search(text)


@pytest.mark.render
def test_html_is_a_narrow_table_with_inline_styles_and_no_script(configured_site) -> None:
    _, _, _, _, msg = configured_site
    body = _html(msg)
    assert re.search(r'<meta name="viewport" content="width=device-width, initial-scale=1"', body)
    assert not re.search(r"<script\b", body, re.I)
    assert "<style" not in body and 'style="' in body
    assert re.search(r'<table[^>]*\brole="presentation"', body)
    widths = [int(w) for w in re.findall(r'<table[^>]*\bwidth="(\d+)"', body)]
    assert widths and max(widths) <= 600
    assert "max-width:600px" in body.replace(" ", "")


@pytest.mark.render
def test_top_findings_come_first(configured_site) -> None:
    config, report, _, _, msg = configured_site
    from analysis.publish import summary

    title = summary.summarise(report, config).title
    text = _text(msg)
    assert title in text
    answers_at = text.find("The answers")
    assert 0 < text.find(title) < answers_at


@pytest.mark.render
def test_every_cid_resolves_and_the_chart_is_large(configured_site) -> None:
    config, report, _, _, msg = configured_site
    body = _html(msg)
    cids = set(re.findall(r'src="cid:([^"]+)"', body))
    assert cids
    images = {
        part["Content-ID"].strip("<>"): part
        for part in msg.walk()
        if part.get_content_maintype() == "image"
    }
    for cid in cids:
        assert cid in images
        data = images[cid].get_content()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, _ = struct.unpack(">II", data[16:24])
        assert width >= 560, (cid, width)
    chart = re.search(r'<img[^>]*src="cid:slide-chart"[^>]*>', body)
    assert chart and 'width="560"' in chart.group(0)
    from analysis.publish import pages, summary

    data = summary.summarise(report, config).chart
    assert data is not None
    assert f'alt="{pages.escape_html(data.description())}"' in chart.group(
        0
    )  # every value, in words


@pytest.mark.render
def test_slide_is_attached(configured_site) -> None:
    _, _, _, _, msg = configured_site
    attachments = [part for part in msg.iter_attachments() if part.get_filename() == "slide.pptx"]
    assert len(attachments) == 1
    assert attachments[0].get_content()[:2] == b"PK"


@pytest.mark.render
def test_answers_and_numbers_match_findings(configured_site) -> None:
    _, report, _, _, msg = configured_site
    findings = report.to_json()
    text = _text(msg)
    for number in NUMBERS:
        answer = privacy.mask_text(findings["questions"][str(number)]["answer"])
        for value in re.findall(r"\d[\d,.]*\d|\d", answer):
            assert value in text, (number, value)


@pytest.mark.render
def test_email_html_opened_alone_shows_its_chart(configured_site) -> None:
    """email.html points at the chart PNG beside it (no cid: left); the .eml keeps cid: + the part."""
    config, _, _, _, msg = configured_site
    page = (config.paths.build_dir / "email.html").read_text(encoding="utf-8")
    assert "cid:" not in page
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert sources == ["slide-chart.png"]
    png = (config.paths.build_dir / sources[0]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] >= 560
    assert 'src="cid:slide-chart"' in _html(msg)


def test_message_id_domain_comes_from_the_configuration(config) -> None:
    def domain(**site) -> str:
        return email_module.message_id_domain(
            config.replace(site=dataclasses.replace(config.site, **site))
        )

    assert domain(email_from=SENDER, base_url=SITE) == "curriculum-board.net"
    assert domain(base_url="https://reports.school.edu/x") == "reports.school.edu"
    assert domain(email_from="me@example.org") == "curriculum-insights"  # placeholder: ignored
    assert domain() == "curriculum-insights"
