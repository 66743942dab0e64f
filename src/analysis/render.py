"""Render the site, the slide and the email from the report, with or without Quarto.

Engine "quarto" runs `quarto render` on the project (when the binary is on PATH). Engine "pandoc" (the
default without Quarto) renders the same .qmd sources itself:

    .qmd --jupytext (read as R Markdown)--> notebook --nbclient (one kernel for all pages)-->
    executed notebook --nbconvert MarkdownExporter (inputs and streams removed)--> Markdown
    --pandoc (pypandoc-binary, templates/site.html)--> _site/*.html

The pages do not compute anything: render pickles the report and the config once
(`_build/findings-cache`, passed to the kernel as CURRICULUM_REPORT) and the pages read it. The slide is
pandoc revealjs + pptx (+ a PNG screenshot by headless Chromium); the email is a pandoc HTML fragment with
CSS inlined (css_inline), charts as cid: PNG images, packed in an .eml with the .pptx attached.

Everything the outputs load is copied into _site/assets/ (vega, vega-lite, vega-embed, reveal.js): no
CDN, the site works offline. The site is rendered into a staging folder and swapped in at the end, so a
failed render leaves the previous site in place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from analysis.config import PROJECT_ROOT, Config
from analysis.errors import ConfigError, TargetError, UserError
from analysis.progress import step

TEMPLATES = Path(__file__).resolve().parent / "templates"
NODE_MODULES = PROJECT_ROOT / "node_modules"
SITE_PAGES = ("index.qmd", *(f"questions/q{n}.qmd" for n in range(1, 9)), "methods.qmd")
CELL_TIMEOUT = 600  # seconds per cell (the first cell of a page may compute the report)
VEGA_ASSETS = {
    "vega.min.js": "vega/build/vega.min.js",
    "vega-lite.min.js": "vega-lite/build/vega-lite.min.js",
    "vega-embed.min.js": "vega-embed/build/vega-embed.min.js",
}
PPTX_TYPE = ("application", "vnd.openxmlformats-officedocument.presentationml.presentation")
CACHE_NAME = "findings-cache"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


@dataclass
class RenderSummary:
    engine: str
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"rendered with engine {self.engine} in {self.seconds:.1f}s:"]
        for path in self.outputs:
            size = path.stat().st_size if path.exists() else 0
            lines.append(f"  {path}  ({size:,} bytes)")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


# --- engine ---------------------------------------------------------------------------------------------


def resolve_engine(engine: str) -> str:
    """auto -> quarto when the binary is on PATH, else pandoc."""
    if engine not in ("auto", "quarto", "pandoc"):
        raise ConfigError(f"--engine must be auto, quarto or pandoc, got {engine!r}")
    if engine == "auto":
        return "quarto" if shutil.which("quarto") else "pandoc"
    if engine == "quarto" and not shutil.which("quarto"):
        raise ConfigError("--engine quarto: the quarto binary is not on PATH (use --engine pandoc)")
    return engine


# --- sources: .qmd -> executed Markdown ----------------------------------------------------------------


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (as a dict) and the rest of a .qmd."""
    import yaml

    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = yaml.safe_load(match.group(1)) or {}
    return meta, text[match.end() :]


def read_qmd(path: Path):
    """A .qmd as a notebook: jupytext's R Markdown reader (its Quarto reader needs the quarto binary)."""
    import jupytext

    _, body = split_front_matter(path.read_text(encoding="utf-8"))
    notebook = jupytext.reads(body, fmt="Rmd")
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


class PageRunner:
    """One Jupyter kernel executing every page in turn (start-up is paid once)."""

    def __init__(self, env: dict[str, str], kernel_log: Path) -> None:
        self.env = env
        self.kernel_log = kernel_log  # the kernel's own stderr (start-up chatter, crashes)
        self._client = None
        self._context = None
        self._log_handle = None

    def __enter__(self) -> PageRunner:
        import nbformat
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient

        self._client = NotebookClient(
            nbformat.v4.new_notebook(),
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            resources={"metadata": {"path": str(PROJECT_ROOT)}},
            allow_errors=False,
        )
        self._log_handle = self.kernel_log.open("w")
        self._context = self._client.setup_kernel(
            env=self.env, cwd=str(PROJECT_ROOT), stderr=self._log_handle
        )
        try:
            self._context.__enter__()
        except NoSuchKernel as exc:
            raise TargetError(
                "no Jupyter kernel 'python3' in this environment: run `make install` "
                "(it runs `python -m ipykernel install --sys-prefix`)"
            ) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
        if self._log_handle is not None:
            self._log_handle.close()

    def run(self, path: Path):
        """Execute the page's cells; an exception names the .qmd and the cell."""
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        notebook = read_qmd(path)
        client = self._client
        client.nb = notebook
        code_index = 0
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            code_index += 1
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError) as exc:
                first = cell.source.strip().splitlines()[-1] if cell.source.strip() else ""
                error = _ANSI.sub("", str(exc)).strip().splitlines()
                reason = error[-1] if error else type(exc).__name__
                raise TargetError(
                    f"{_rel(path)}: code cell {code_index} (`{first}`) failed: {reason}"
                ) from exc
            except DeadKernelError as exc:
                raise TargetError(
                    f"{_rel(path)}: the Jupyter kernel died in code cell {code_index} "
                    f"(its output is in {self.kernel_log})"
                ) from exc
        return notebook


def notebook_markdown(notebook) -> str:
    """Executed notebook -> Markdown: inputs hidden (echo: false), prints/warnings dropped."""
    from nbconvert import MarkdownExporter

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream"]
    exporter = MarkdownExporter(exclude_input=True, exclude_input_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    return body


# --- pandoc ---------------------------------------------------------------------------------------------


def _pandoc(
    text: str,
    to: str,
    extra: list[str],
    outputfile: Path | None = None,
    where: str = "",
    source_format: str = "markdown",
) -> str:
    import pypandoc

    try:
        return pypandoc.convert_text(
            text,
            to,
            format=source_format,
            extra_args=extra,
            outputfile=str(outputfile) if outputfile else None,
        )
    except (RuntimeError, OSError) as exc:
        raise TargetError(f"{where}: pandoc failed ({to}): {exc}") from exc


def _site_page(
    markdown: str,
    meta: dict[str, Any],
    target: Path,
    root: str,
    config: Config,
    simulated: bool,
    toc: bool,
    question: str = "",
) -> Path:
    import yaml

    front = {k: str(meta[k]) for k in ("title", "subtitle") if k in meta}
    title = front.get("title", config.site.title)
    pagetitle = (
        config.site.title if title == config.site.title else f"{title} – {config.site.title}"
    )
    front["pagetitle"] = pagetitle
    document = f"---\n{yaml.safe_dump(front, allow_unicode=True)}---\n\n{markdown}"
    extra = [
        "--standalone",
        f"--template={TEMPLATES / 'site.html'}",
        "--section-divs",
        "-V",
        f"root={root}",
        "-V",
        f"sitetitle={html.escape(config.site.title)}",
        "-V",
        f"built={dt.date.today().isoformat()}",
    ]
    if simulated:
        extra += ["-V", "simulated=true"]
    if question:  # -V values are inserted verbatim: escape them
        extra += ["-V", f"question={html.escape(question)}"]
    if toc:
        extra += ["--toc", "--toc-depth=2"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_pandoc(document, "html", extra, where=str(target.name)), encoding="utf-8")
    return target


# --- assets ---------------------------------------------------------------------------------------------


def copy_assets(site_dir: Path) -> list[Path]:
    """vega, vega-lite, vega-embed and reveal.js from node_modules, plus the site's CSS."""
    assets = site_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, source in VEGA_ASSETS.items():
        origin = NODE_MODULES / source
        if not origin.exists():
            raise TargetError(
                f"JavaScript asset missing: {origin} (run `make install`, it runs `npm ci`)"
            )
        copied.append(Path(shutil.copy2(origin, assets / name)))
    reveal = NODE_MODULES / "reveal.js" / "dist"
    if not reveal.exists():
        raise TargetError(f"reveal.js missing: {reveal} (run `make install`, it runs `npm ci`)")
    shutil.copytree(
        reveal,
        assets / "reveal.js",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("*.d.ts", "*.mjs", "*.map", "utils"),
    )
    copied.append(Path(shutil.copy2(TEMPLATES / "site.css", assets / "site.css")))
    return copied


# --- slide ----------------------------------------------------------------------------------------------


def _slide(markdown: str, site_dir: Path, config: Config) -> list[Path]:
    """revealjs HTML, pptx (same Markdown; the chart is a PNG in both) and a PNG of the slide."""
    title = html.escape(config.site.title)
    html_out = site_dir / "slide.html"
    _pandoc(
        markdown,
        "revealjs",
        [
            "--standalone",
            f"--template={TEMPLATES / 'slide.html'}",
            "-V",
            "revealjs-url=assets/reveal.js",
            "--metadata",
            f"pagetitle={title}",
            "--slide-level=2",
        ],
        outputfile=html_out,
        where="slide.qmd",
        source_format="markdown-implicit_figures",  # the chart's alt text is not a caption
    )
    pptx_out = site_dir / "slide.pptx"
    _pandoc(
        markdown,
        "pptx",
        ["--slide-level=2", f"--resource-path={site_dir}"],
        outputfile=pptx_out,
        where="slide.qmd",
        source_format="markdown-implicit_figures",
    )
    return [html_out, pptx_out]


def screenshot(html_file: Path, png: Path, size: tuple[int, int] = (1280, 720)) -> bool:
    """Headless Chromium screenshot of a local page; False when chromium is not installed."""
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if not browser:
        return False
    with tempfile.TemporaryDirectory(prefix="ci-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png}",
            html_file.resolve().as_uri(),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        except (subprocess.SubprocessError, OSError) as exc:
            raise TargetError(f"slide screenshot with {browser} failed: {exc}") from exc
    if not png.exists():
        raise TargetError(f"slide screenshot: {browser} wrote no {png}")
    return True


# --- email ----------------------------------------------------------------------------------------------


def _email(
    markdown: str,
    meta: dict[str, Any],
    build_dir: Path,
    pptx: Path,
    config: Config,
    simulated: bool,
) -> list[Path]:
    """email.html (CSS inlined, cid: images, no script) and email.eml (text + HTML + PNGs + slide.pptx)."""
    import css_inline

    subject = str(meta.get("title", config.site.title)) + (" (simulated data)" if simulated else "")
    fragment = _pandoc(markdown, "html", [], where="email.qmd")
    css = (TEMPLATES / "email.css").read_text(encoding="utf-8")
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title><style>{css}</style></head>"
        f"<body><h1>{html.escape(subject)}</h1>{fragment}</body></html>"
    )
    inlined = css_inline.inline(document)
    if re.search(r"<script\b", inlined, re.I):
        raise TargetError("email.qmd: the email body contains a <script> element (not allowed)")
    html_out = build_dir / "email.html"
    html_out.write_text(inlined, encoding="utf-8")

    text = _pandoc(markdown, "plain", ["--wrap=auto", "--columns=78"], where="email.qmd")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = config.site.email_from
    message["To"] = config.site.email_to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="curriculum-insights.local")
    message.set_content(text)
    message.add_alternative(inlined, subtype="html")
    html_part = message.get_payload()[1]
    for cid in dict.fromkeys(re.findall(r'src="cid:([A-Za-z0-9._-]+)"', inlined)):
        image = build_dir / "email" / f"{cid}.png"
        if not image.exists():
            raise TargetError(f"email.qmd: image cid:{cid} has no file {image}")
        html_part.add_related(
            image.read_bytes(),
            "image",
            "png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=f"{cid}.png",
        )
    message.add_attachment(pptx.read_bytes(), *PPTX_TYPE, filename="slide.pptx")
    eml_out = build_dir / "email.eml"
    eml_out.write_bytes(bytes(message))
    return [html_out, eml_out]


# --- the whole render -----------------------------------------------------------------------------------


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _swap(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)


def render(
    config: Config, engine: str = "auto", progress: bool = True, report: Any = None
) -> RenderSummary:
    """Site, slide and email from the report (computed from the snapshot when not given)."""
    from analysis import pages
    from analysis.questions import TITLES

    started = time.monotonic()
    engine = resolve_engine(engine)
    if report is None:
        from analysis.report import compute_report

        report = compute_report(config, progress=progress)
    simulated = bool((getattr(report, "dataset", {}) or {}).get("simulated", False))

    site_dir, build_dir = config.paths.site_dir, config.paths.build_dir
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        staging = site_dir.with_name(f".{site_dir.name}.partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        shutil.rmtree(build_dir / "email", ignore_errors=True)
    except OSError as exc:
        raise TargetError(f"cannot write the outputs ({site_dir}, {build_dir}): {exc}") from exc

    # The pages see the staging folder as the site (slide-chart.png is written there).
    page_config = config.replace(paths=dataclasses.replace(config.paths, site_dir=staging))
    cache = pages.write_cache(report, page_config, build_dir / CACHE_NAME)
    env = {**os.environ, "CURRICULUM_REPORT": str(cache)}  # forwarded to the kernel, not read here
    summary = RenderSummary(engine=engine)

    try:
        with PageRunner(env, build_dir / "kernel.log") as runner:
            if engine == "quarto":
                step("quarto render (site)", enabled=progress)
                _quarto_site(staging, env)
            else:
                for source in SITE_PAGES:
                    t0 = time.monotonic()
                    path = PROJECT_ROOT / source
                    meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
                    question = ""
                    if source.startswith("questions/q"):
                        number = int(source.removeprefix("questions/q").removesuffix(".qmd"))
                        meta = {**meta, "title": f"Question {number}: {TITLES[number]}"}
                        question = str(report.results[number].title)
                    markdown = notebook_markdown(runner.run(path))
                    root = "../" if "/" in source else ""
                    _site_page(
                        markdown,
                        meta,
                        staging / source.replace(".qmd", ".html"),
                        root,
                        config,
                        simulated,
                        toc=root != "",
                        question=question,
                    )
                    step(f"{source} ({time.monotonic() - t0:.1f}s)", enabled=progress)
            copy_assets(staging)  # after the site: quarto may clean its output folder
            t0 = time.monotonic()
            slide_md = notebook_markdown(runner.run(PROJECT_ROOT / "slide.qmd"))
            slide_outputs = _slide(slide_md, staging, config)
            step(
                f"slide.qmd -> slide.html, slide.pptx ({time.monotonic() - t0:.1f}s)",
                enabled=progress,
            )
            t0 = time.monotonic()
            email_path = PROJECT_ROOT / "email.qmd"
            email_meta, _ = split_front_matter(email_path.read_text(encoding="utf-8"))
            email_md = notebook_markdown(runner.run(email_path))
        png = staging / "slide.png"
        if not screenshot(slide_outputs[0], png):
            shutil.copy2(staging / "slide-chart.png", png)
            summary.notes.append(
                "chromium not found: slide.png is the slide's chart (vl-convert), not a screenshot"
            )
        email_outputs = _email(email_md, email_meta, build_dir, slide_outputs[1], config, simulated)
        step(f"email.qmd -> email.html, email.eml ({time.monotonic() - t0:.1f}s)", enabled=progress)
        _swap(staging, site_dir)
    except UserError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise TargetError(f"cannot write the outputs ({site_dir}): {exc}") from exc

    summary.outputs = [site_dir / source.replace(".qmd", ".html") for source in SITE_PAGES] + [
        site_dir / "slide.html",
        site_dir / "slide.pptx",
        site_dir / "slide.png",
        *email_outputs,
    ]
    summary.seconds = time.monotonic() - started
    return summary


def _quarto_site(site_dir: Path, env: dict[str, str]) -> None:
    """`quarto render` of the website into site_dir (assets/ copied before, kept by quarto as a resource)."""
    command = ["quarto", "render", "--output-dir", str(site_dir)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise TargetError(f"quarto render failed (exit {result.returncode}):\n{tail}")
