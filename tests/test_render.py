"""analysis.publish.render: the no-Quarto chain end to end on a hostile snapshot (paths that try to inject HTML,
Markdown, LaTeX and script), IP masking in every output, offline assets, errors that name the .qmd."""

from __future__ import annotations

import email
import html
import re
import zipfile
from email import policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from render_support import HOSTILE_PATHS, SECRET_IP, hostile_build

from analysis.errors import ConfigError, TargetError
from analysis.publish.render import PageRunner, resolve_engine, split_front_matter

pytestmark = pytest.mark.render

VEGA_CALL = re.compile(r'^vegaEmbed\("#chart-[\w-]+", \{')


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of inline scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory):
    return hostile_build(tmp_path_factory.mktemp("hostile-public"))


def _html_files(config) -> list[Path]:
    site = sorted(config.paths.site_dir.glob("*.html")) + sorted(
        config.paths.site_dir.glob("questions/*.html")
    )
    return [*site, config.paths.build_dir / "email.html"]


def test_every_output_exists(public) -> None:
    config, _, summary = public
    assert summary.engine == "pandoc"
    for path in summary.outputs:
        assert path.exists() and path.stat().st_size > 0, path
    assert len(_html_files(config)) == 13  # index, 8 questions, methods, search, slide, email
    assert "rendered with engine pandoc" in summary.describe()


def test_no_injected_element_or_script(public) -> None:
    config, _, _ = public
    for path in _html_files(config):
        parsed = parse(path)
        for tag, attrs in parsed.tags:
            assert not any(name.startswith("on") for name in attrs), (path, tag, attrs)
            for name in ("href", "src"):
                assert not (attrs.get(name) or "").lower().startswith("javascript:"), (path, attrs)
            if tag == "img":
                source = attrs.get("src") or attrs.get("data-src") or ""
                assert source.startswith(("cid:", "slide-chart.png")), (path, attrs)
            if tag == "script" and attrs.get("src"):
                assert re.fullmatch(r"(\.\./)?assets/[\w./-]+\.js", attrs["src"]), (path, attrs)
        for script in parsed.scripts:
            if script.strip():
                assert VEGA_CALL.match(script) or script.strip().startswith("Reveal.initialize"), (
                    path,
                    script[:200],
                )
                assert "</" not in script


def test_hostile_text_appears_escaped(public) -> None:
    config, _, _ = public
    text = "".join(path.read_text(encoding="utf-8") for path in _html_files(config))
    assert html.escape('"><img src=x onerror=alert(1)>') in text
    assert "**bold**" in html.unescape(re.sub(r"<[^>]+>", "", text))
    assert "<strong>bold</strong>" not in text
    assert '<a href="javascript' not in text
    assert '<span class="math' not in text  # $x$ stayed text
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    shown = [path for path in HOSTILE_PATHS if path in plain]
    assert len(shown) >= 5, shown  # the hostile lessons are listed (as text) in tables and answers


def test_no_cdn_or_external_url(public) -> None:
    config, _, _ = public
    for path in config.paths.site_dir.rglob("*.html"):
        for tag, attrs in parse(path).tags:
            for name in ("src", "href"):
                value = attrs.get(name) or ""
                assert not re.match(r"(https?:)?//", value), (path, tag, value)
    assets = config.paths.site_dir / "assets"
    for name in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "site.css"):
        assert (assets / name).stat().st_size > 0
    assert (assets / "reveal.js" / "reveal.js").exists()


def _all_published_text(config) -> str:
    parts = [p.read_text(encoding="utf-8") for p in config.paths.site_dir.rglob("*.html")]
    with zipfile.ZipFile(config.paths.site_dir / "slide.pptx") as pptx:
        parts += [
            pptx.read(n).decode("utf-8", "replace") for n in pptx.namelist() if n.endswith(".xml")
        ]
    message = email.message_from_bytes(
        (config.paths.build_dir / "email.eml").read_bytes(), policy=policy.default
    )
    parts += [
        part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
    ]
    return "\n".join(parts)


def test_public_build_masks_ips_everywhere(public) -> None:
    config, _, _ = public
    text = _all_published_text(config)
    assert SECRET_IP not in text
    assert SECRET_IP.rsplit(".", 1)[0] + ".x" in text  # the masked form is what is shown


def test_internal_build_shows_full_ips(tmp_path_factory: pytest.TempPathFactory) -> None:
    config, _, _ = hostile_build(tmp_path_factory.mktemp("hostile-internal"), privacy="internal")
    assert SECRET_IP in _all_published_text(config)


def test_raw_log_rows_are_never_published(public) -> None:
    """No page lists log rows: no table has a timestamp, path, user and IP column together."""
    config, _, _ = public
    for path in config.paths.site_dir.rglob("*.html"):
        heads = re.findall(r"<thead><tr>(.*?)</tr></thead>", path.read_text(encoding="utf-8"))
        for head in heads:
            names = {n.lower() for n in re.findall(r"<th[^>]*>(.*?)</th>", head)}
            assert not {"timestamp", "path", "ip"} <= names, (path, names)


def test_failing_cell_names_the_qmd(tmp_path: Path) -> None:
    page = tmp_path / "broken.qmd"
    page.write_text(
        '---\ntitle: "x"\n---\n\n```{python}\n#| echo: false\nraise ValueError("boom")\n```\n'
    )
    with (
        PageRunner({}, tmp_path / "kernel.log") as runner,
        pytest.raises(TargetError, match=r"broken\.qmd: code cell 1.*boom"),
    ):
        runner.run(page)


def test_dead_kernel_points_at_its_log(tmp_path: Path) -> None:
    page = tmp_path / "dies.qmd"
    page.write_text("```{python}\n#| echo: false\nimport os\nos._exit(1)\n```\n")
    log = tmp_path / "kernel.log"
    with (
        PageRunner({}, log) as runner,
        pytest.raises(
            TargetError, match=r"dies\.qmd: the Jupyter kernel died in code cell 1"
        ) as caught,
    ):
        runner.run(page)
    assert str(log) in str(caught.value) and log.exists()


def test_engine_choice() -> None:
    assert resolve_engine("pandoc") == "pandoc"
    assert resolve_engine("auto") in ("pandoc", "quarto")
    with pytest.raises(ConfigError):
        resolve_engine("latex")


def test_front_matter() -> None:
    meta, body = split_front_matter('---\ntitle: "T"\n---\n\nbody\n')
    assert meta == {"title": "T"} and body.strip() == "body"
    assert split_front_matter("no front matter") == ({}, "no front matter")


def test_cell_options_make_numbered_floats_like_quarto() -> None:
    """Without Quarto, `#| label: fig-/tbl-` and their captions still give numbered, linked floats."""
    import nbformat

    from analysis.publish.render import cell_options, notebook_markdown

    def code(source: str, text: str):
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [
            nbformat.v4.new_output("display_data", data={"text/markdown": text}),
            nbformat.v4.new_output("stream", name="stdout", text="noise"),
        ]
        return cell

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("See @fig-a and @tbl-b; @fig-missing stays."),
        code("#| include: false\nsetup()", "HIDDEN"),
        code('#| label: fig-a\n#| fig-cap: "A <chart> & more"\nchart()', "CHART"),
        code("#| label: tbl-b\n#| tbl-cap: Counts\ntable()", "TABLE"),
        code("#| label: fig-c\nchart()", "SECOND"),
    ]
    out = notebook_markdown(notebook)
    assert "HIDDEN" not in out and "noise" not in out
    assert "[Figure 1](#fig-a)" in out and "[Table 1](#tbl-b)" in out and "@fig-missing" in out
    assert (
        '<div id="fig-a" class="quarto-float' in out
        and "Figure&nbsp;1: A &lt;chart&gt; &amp; more" in out
    )
    assert out.index("CHART") < out.index("Figure&nbsp;1:")  # figures are captioned below
    assert out.index("Table&nbsp;1: Counts") < out.index("TABLE")  # tables above
    assert "Figure&nbsp;2:" in out
    assert cell_options("#| echo: false\n#| fig-cap: 'x: y'\ncode()\n#| not: an option") == {
        "echo": False,
        "fig-cap": "x: y",
    }


# --- the pages run in-process; pandoc once per output kind; slide.png only when asked -----------------

RUNNER_PAGE = """---
title: "x"
---

Text.

```{python}
#| include: false
from IPython.display import Markdown, display
value = 6 * 7
print("noise")
```

```{python}
display({"text/markdown": "shown", "application/x-test+json": {"n": value}}, raw=True)
Markdown(f"**{value}**")
```

```{python}
Markdown("hidden by the semicolon");
```
"""


def _bundle(tmp_path: Path) -> Path:
    import pickle

    from analysis.config import load_config

    path = tmp_path / "bundle"
    path.write_bytes(pickle.dumps({"report": None, "config": load_config(environ={})}))
    return path


def _outputs(notebook) -> list[list[tuple[str, dict]]]:
    """Per code cell: (output type, data) of every output but streams."""
    return [
        [
            (o["output_type"], dict(o.get("data", {})))
            for o in c.outputs
            if o.output_type != "stream"
        ]
        for c in notebook.cells
        if c.cell_type == "code"
    ]


def test_in_process_runner_gives_the_outputs_a_kernel_gives(tmp_path: Path) -> None:
    from analysis.publish.render import InProcessRunner, notebook_markdown

    page = tmp_path / "page.qmd"
    page.write_text(RUNNER_PAGE)
    with InProcessRunner(_bundle(tmp_path)) as runner:
        local = runner.run(page)
    with PageRunner({}, tmp_path / "kernel.log") as runner:
        kernel = runner.run(page)
    assert _outputs(local) == _outputs(kernel)
    assert _outputs(local)[1] == [
        ("display_data", {"text/markdown": "shown", "application/x-test+json": {"n": 42}}),
        (
            "execute_result",
            {"text/plain": "<IPython.core.display.Markdown object>", "text/markdown": "**42**"},
        ),
    ]
    assert _outputs(local)[2] == []  # `;` hides the value, as in Jupyter
    assert notebook_markdown(local) == notebook_markdown(kernel)


def test_in_process_failing_cell_names_the_qmd(tmp_path: Path) -> None:
    from analysis.publish import pages
    from analysis.publish.render import InProcessRunner

    page = tmp_path / "broken.qmd"
    page.write_text('```{python}\nx = 1\n```\n\n```{python}\nraise ValueError("boom")\n```\n')
    with (
        InProcessRunner(_bundle(tmp_path)) as runner,
        pytest.raises(TargetError, match=r"broken\.qmd: code cell 2 .*ValueError: boom"),
    ):
        runner.run(page)
    assert "bundle" not in pages._STATE  # the page state is cleared on the way out


def _pandoc_command_line(text: str, to: str, options: list[str]) -> str:
    """What `pandoc -f markdown -t TO OPTIONS` writes for `text` (the reference for pandoc_many)."""
    import subprocess

    from analysis.publish.common import pandoc_binary

    done = subprocess.run(
        [pandoc_binary(), "--from", "markdown", "--to", to, *options],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def test_pandoc_many_makes_what_the_command_line_makes(tmp_path: Path) -> None:
    from analysis.publish.common import TEMPLATES, PandocJob, PandocStream, pandoc_many

    text = '---\ntitle: "T <x>"\n---\n\n# One\n\nSome *text* and a [link](a.html).\n\n## Two\n\n- a\n- b\n'
    variables = {"root": "../", "navbar": "<nav>N</nav>", "question": "Q &amp; A"}
    args = ["--standalone", f"--template={TEMPLATES / 'site.html'}", "--section-divs"]
    for key, value in variables.items():
        args += ["-V", f"{key}={value}"]
    site = PandocJob(
        text, template=TEMPLATES / "site.html", variables=variables, toc=True, section_divs=True
    )
    title = 'Site <b> & "co": summary slide'
    slide = PandocJob(
        text,
        "revealjs",
        template=TEMPLATES / "slide-revealjs.html",
        metadata={"pagetitle": title},
        slide_level=1,
    )
    jobs = [site, PandocJob(text, "html"), PandocJob(text * 3, "plain", columns=30), slide]
    expected = [
        _pandoc_command_line(text, "html", [*args, "--toc", "--toc-depth=2"]),
        _pandoc_command_line(text, "html", []),
        _pandoc_command_line(text * 3, "plain", ["--wrap=auto", "--columns=30"]),
        _pandoc_command_line(
            text,
            "revealjs",
            [
                "--standalone",
                f"--template={TEMPLATES / 'slide-revealjs.html'}",
                "--slide-level=1",
                "-M",
                f"pagetitle={title}",
            ],
        ),
    ]
    assert pandoc_many(jobs) == expected
    with PandocStream("test") as stream:  # fed one job at a time, read in any order
        futures = [stream.add(job) for job in jobs]
        assert [stream.get(future) for future in reversed(futures)] == expected[::-1]


def test_pandoc_stream_names_the_document_pandoc_failed_on() -> None:
    from analysis.publish.common import PandocJob, PandocStream

    with PandocStream("test") as stream:
        good = stream.add(PandocJob("a", where="one.qmd"))
        bad = stream.add(PandocJob("b", "no-such-format", where="two.qmd"))
        after = stream.add(PandocJob("c", where="three.qmd"))
        assert stream.get(good) == "<p>a</p>\n"
        for future in (bad, after):  # the failure, and every later job fails the same way
            with pytest.raises(TargetError, match=r"two\.qmd: pandoc failed \(no-such-format\)"):
                stream.get(future)


def test_slide_png_only_when_asked(tmp_path: Path) -> None:
    from render_support import configured, hostile_snapshot, report_for

    from analysis.publish.render import render

    config = configured(tmp_path)
    summary = render(
        config, engine="pandoc", progress=False, report=report_for(hostile_snapshot(), config)
    )
    site = config.paths.site_dir
    assert (site / "slide.pptx").exists() and not (site / "slide.png").exists()
    assert "slide.png" not in (site / "index.html").read_text(encoding="utf-8")  # no dead link
    assert "slide.png" not in (site / "slide.html").read_text(encoding="utf-8")
    assert not any("slide.png" in note for note in summary.notes), summary.notes
    assert all(path.exists() for path in summary.outputs)


def test_slide_png_when_asked(public) -> None:
    config, _, summary = public  # render_support builds with slide_png=True
    site = config.paths.site_dir
    made = (site / "slide.png").exists()
    assert made == (site / "slide.png" in summary.outputs)
    assert made == ("slide.png" in (site / "index.html").read_text(encoding="utf-8"))
    assert made or any("slide.png" in note for note in summary.notes)
