"""Render the site, the slide and the email from the report, with or without Quarto.

Engine "quarto" runs `quarto render` on the project (when the binary is on PATH). Engine "pandoc" (the
default without Quarto) renders the same .qmd sources itself:

    .qmd --jupytext (read as R Markdown)--> notebook --InProcessRunner (every page's cells run in this
    process, one IPython shell, no kernel)--> executed notebook --nbconvert MarkdownExporter (one
    exporter for all pages; inputs and streams removed)--> Markdown --pandoc (one process for every
    document: publish/common.PandocStream, fed each page as soon as it is executed)--> _site/*.html

The pages do not compute anything: render pickles the report and the config once
(`_build/findings-cache`: masked in a public build, no secret) and the pages read it (in-process through
`pages.use`; Quarto's kernel through CURRICULUM_REPORT). Site, slide and email are built from the same
executed pages of one run. The slide is one content object from slide.qmd drawn as pptx (python-pptx,
native chart), HTML and, only when asked (`render --slide-png`, the publishing workflow) and LibreOffice
is installed, PNG; the email is a pandoc HTML fragment with CSS inlined (css_inline), charts as cid: PNG
images, packed in an .eml with the .pptx attached.

The work that runs outside the GIL runs beside the pages' Python: one pandoc process converts every
document (site pages, search page, slide.html, the email's HTML and text) while the next pages execute,
and vl-convert's engine (for the email's chart) starts in a thread when render begins
(pages.start_png_engine).

`PageRunner` (one Jupyter kernel for every page) is kept for callers that want the pages isolated from
this process; render itself uses `InProcessRunner` (a kernel cost about 1 s to start and to reach).

Everything the outputs load is copied into _site/assets/ (vega, vega-lite, vega-embed, reveal.js): no
CDN, the site works offline. The site is rendered into a staging folder and swapped in at the end, so a
failed render leaves the previous site in place.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import html
import importlib
import os
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis import history
from analysis.config import PROJECT_ROOT, Config
from analysis.errors import ConfigError, TargetError, UserError
from analysis.progress import step
from analysis.publish import outputs
from analysis.sources.locking import locked, repair_swap

CELL_TIMEOUT = 600  # seconds per cell (the first cell of a page may compute the report)
CACHE_NAME = "findings-cache"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


@dataclass
class RenderSummary:
    engine: str
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    run_id: str = ""  # the run the outputs were published as (publish/outputs.py)

    def describe(self) -> str:
        lines = [f"rendered with engine {self.engine} in {self.seconds:.1f}s:"]
        for path in self.outputs:
            size = path.stat().st_size if path.exists() else 0
            lines.append(f"  {path}  ({size:,} bytes)")
        lines += [f"  note: {note}" for note in self.notes]
        if self.run_id:
            lines.append(f"  published as run {self.run_id} (findings.json, site, slide, email)")
        return "\n".join(lines)


# What render imports (its own modules, the page runner's, the exporters'): about 0.6 s of imports
# and one-off set-up, named here for preload.
RENDER_MODULES = (
    "analysis.publish.pages",
    "analysis.publish.site",
    "analysis.publish.slide",
    "analysis.publish.email",
    "analysis.charts",
    "IPython.core.interactiveshell",
    "IPython.core.displaypub",
    "nbformat",
    "jupytext",
    "yaml",
    "nbconvert",
    "pptx",
    "vl_convert",
)


def preload() -> threading.Thread:
    """Import RENDER_MODULES in a background thread: `build` starts it before analysing, so the imports
    run while the analysis waits on polars (which releases the GIL) instead of after it. Nothing is
    executed but imports; a module that fails to import here is imported again, and reported, by render."""

    def load() -> None:
        for name in RENDER_MODULES:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="preload-render", daemon=True)
    thread.start()
    return thread


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
        self._client: Any = None
        self._context: Any = None
        self._log_handle: Any = None

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


def _run_cell(source: str, namespace: dict[str, Any], filename: str) -> Any:
    """Execute a cell as a kernel does: every statement, then the value of a final expression (None
    when the cell ends with a statement or with `;`)."""
    tree = ast.parse(source, filename)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        tree.body.pop()
    else:
        last = None
    # Our own .qmd pages, run as a kernel would run them.
    exec(compile(tree, filename, "exec"), namespace)
    if last is None:
        return None
    value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
    return None if source.rstrip().endswith(";") else value


class InProcessRunner:
    """Every page's cells executed in this process, in turn (no kernel to start or to talk to).

    The cells run as a Jupyter kernel runs them: one IPython shell formats `display(...)` calls and a
    cell's final expression into the cell's outputs (display_data, execute_result); prints and warnings
    are dropped, as notebook_markdown drops streams. Each page gets its own namespace. The report and
    config the pages read are the ones render pickled (`bundle`, masked in a public build), loaded once
    with `pages.use`; the page state is cleared on exit."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self._shell: Any = None
        self._saved_publisher: Any = None

    def __enter__(self) -> InProcessRunner:
        import pickle

        from IPython.core.displaypub import CapturingDisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell

        from analysis.publish import pages

        data = pickle.loads(self.bundle.read_bytes())
        pages.use(data["report"], data["config"], data.get("changes", pages.LATER))
        if InteractiveShell.initialized():
            self._shell = InteractiveShell.instance()
        else:
            # IPython's (traitlets') Config class, taken from the shell: traitlets is not ours to import.
            config_trait: Any = InteractiveShell.class_traits()["config"]
            settings = config_trait.klass()
            settings.HistoryManager.enabled = False  # no history file in the user's home
            self._shell = InteractiveShell.instance(config=settings)
        self._saved_publisher = self._shell.display_pub
        self._shell.display_pub = CapturingDisplayPublisher()
        return self

    def __exit__(self, *exc: object) -> None:
        from analysis.publish import pages

        if self._shell is not None:
            self._shell.display_pub = self._saved_publisher
        pages._STATE.clear()  # no masked report left behind in a long-lived process

    def run(self, path: Path):
        """Execute the page's cells; an exception names the .qmd and the cell."""
        import io

        import nbformat

        notebook = read_qmd(path)
        outputs = self._shell.display_pub.outputs
        namespace: dict[str, Any] = {"__name__": "__main__"}
        code_index = 0
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            code_index += 1
            outputs.clear()
            filename = f"<{path.name}, code cell {code_index}>"
            try:
                with (
                    contextlib.redirect_stdout(io.StringIO()),
                    contextlib.redirect_stderr(io.StringIO()),
                ):
                    value = _run_cell(cell.source, namespace, filename)
                    result = (
                        self._shell.display_formatter.format(value) if value is not None else None
                    )
            except Exception as exc:
                lines = cell.source.strip().splitlines()
                first = lines[-1] if lines else ""
                reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[-1]
                raise TargetError(
                    f"{_rel(path)}: code cell {code_index} (`{first}`) failed: {reason}"
                ) from exc
            # Outputs as a kernel reports them (built without nbformat's per-output validation).
            cell.outputs = [
                nbformat.from_dict(
                    {
                        "output_type": "display_data",
                        "data": out["data"],
                        "metadata": out.get("metadata") or {},
                    }
                )
                for out in outputs
            ]
            if result is not None:
                data, metadata = result
                cell.outputs.append(
                    nbformat.from_dict(
                        {
                            "output_type": "execute_result",
                            "data": data,
                            "metadata": metadata or {},
                            "execution_count": code_index,
                        }
                    )
                )
            cell.execution_count = code_index
        outputs.clear()
        return notebook


def cell_options(source: str) -> dict[str, Any]:
    """The `#| key: value` lines that open a code cell, read as YAML (as Quarto reads them)."""
    import yaml

    lines = []
    for line in source.splitlines():
        if not line.startswith("#|"):
            break
        lines.append(line[2:].removeprefix(" "))
    try:
        options = yaml.safe_load("\n".join(lines)) if lines else {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"a cell's #| options are not valid YAML: {exc}") from exc
    return options if isinstance(options, dict) else {}


FLOAT_KINDS = {"fig": "Figure", "tbl": "Table"}
_CROSSREF = re.compile(r"@((?:fig|tbl)-[\w-]+)")


def _float_cells(label: str, kind: str, number: int, caption: str) -> tuple[str, str]:
    """Raw HTML opening and closing a numbered figure or table, as Quarto writes its floats."""
    name = FLOAT_KINDS[kind]
    cap = (
        f'<figcaption id="{label}-caption" class="quarto-float-caption quarto-float-{kind}">'
        f"{name}&nbsp;{number}: {html.escape(caption)}</figcaption>"
    )
    opening = (
        f'<div id="{label}" class="quarto-float quarto-figure anchored">'
        f'<figure class="quarto-float quarto-float-{kind} figure chart">'
        + (cap if kind == "tbl" else "")  # tables are captioned above, figures below (Quarto)
        + f'<div aria-describedby="{label}-caption">'
    )
    closing = "</div>" + (cap if kind == "fig" else "") + "</figure></div>"
    return f"```{{=html}}\n{opening}\n```", f"```{{=html}}\n{closing}\n```"


def notebook_markdown(notebook) -> str:
    """Executed notebook -> Markdown: inputs hidden (echo: false), prints/warnings dropped.

    Cell options do what Quarto does with them: `include: false` / `output: false` hide the output, and a
    `label: fig-...` / `tbl-...` with `fig-cap` / `tbl-cap` makes the output a numbered figure or table
    (`@fig-...` in the text becomes a link "Figure N")."""
    cells, numbers, counters = [], {}, dict.fromkeys(FLOAT_KINDS, 0)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        options = cell_options(cell.source)
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream"]
        if options.get("include") is False or options.get("output") is False:
            cell.outputs = []
        label = str(options.get("label", ""))
        kind = label.split("-", 1)[0]
        if kind not in FLOAT_KINDS or not cell.outputs:
            cells.append(cell)
            continue
        counters[kind] += 1
        numbers[label] = f"{FLOAT_KINDS[kind]} {counters[kind]}"
        opening, closing = _float_cells(
            label, kind, counters[kind], str(options.get(f"{kind}-cap", ""))
        )
        cells += [_markdown_cell(opening), cell, _markdown_cell(closing)]
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = _CROSSREF.sub(
                lambda m: (
                    f"[{numbers[m.group(1)]}](#{m.group(1)})"
                    if m.group(1) in numbers
                    else m.group(0)
                ),
                cell.source,
            )
    notebook.cells = cells
    body, _ = _markdown_exporter().from_notebook_node(notebook)
    return body


def _markdown_cell(source: str) -> Any:
    """A Markdown cell (as nbformat.v4.new_markdown_cell makes it, without its 1 ms validation)."""
    import nbformat

    cell = {"id": uuid.uuid4().hex[:8], "cell_type": "markdown", "metadata": {}, "source": source}
    return nbformat.from_dict(cell)


@functools.cache
def _markdown_exporter():
    """One nbconvert exporter for every page (building one compiles its Jinja templates: 50 ms). It
    validates each page's notebook once, after all its preprocessors (`optimistic_validation`), not
    after every one of them (eleven schema checks of the page)."""
    from nbconvert import MarkdownExporter

    return MarkdownExporter(
        exclude_input=True, exclude_input_prompt=True, optimistic_validation=True
    )


# --- the whole render -----------------------------------------------------------------------------------


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _swap(staging: Path, target: Path) -> None:
    """Replace `target` by `staging` with two renames (under the output lock, see _holding_outputs);
    a run killed between them leaves only `.NAME.old`, which the next run puts back first."""
    old = target.with_name(f".{target.name}.old")
    repair_swap(target, old)
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    if old.exists():
        shutil.rmtree(old)


def _holding_outputs(function):
    """Run render() holding the exclusive locks of the site and build folders (one writer at a time;
    re-entrant when the caller holds them), after repairing a site swap a killed run interrupted."""

    @functools.wraps(function)
    def locked_render(config: Config, *args: Any, wait: bool = True, **kwargs: Any):
        site_dir, build_dir = config.paths.site_dir, config.paths.build_dir
        with contextlib.ExitStack() as stack:
            for folder in sorted({Path(site_dir).absolute(), Path(build_dir).absolute()}):
                stack.enter_context(locked(folder, wait=wait))
            outputs.recover(site_dir, build_dir)  # finish a publish a crash interrupted, first
            repair_swap(site_dir, site_dir.with_name(f".{site_dir.name}.old"))
            return function(config, *args, **kwargs)

    return locked_render


def _publish(report: Any, manifest: Any, staging: Path, stage: Path, config: Config) -> str:
    """findings.json (and the report cache, given the manifest) into the build stage, then publish
    both staged sides as one run. Returns the run id."""
    from analysis.report import save_report, write_findings

    run_id = outputs.new_run_id()
    write_findings(report, stage, run_id=run_id)
    if manifest is not None:
        save_report(report, manifest, stage)
    outputs.publish(run_id, staging, config.paths.site_dir, stage, config.paths.build_dir)
    return run_id


@_holding_outputs
def render(
    config: Config,
    engine: str = "auto",
    progress: bool = True,
    report: Any = None,
    manifest: Any = None,
    slide_png: bool = False,
) -> RenderSummary:
    """Site, slide, email and findings.json from the report (computed from the snapshot when not
    given), published together as one run (publish/outputs.py); with `manifest` (the snapshot the
    given report answers) the report cache is published with them. `slide_png`: also draw slide.png
    with LibreOffice (when installed; about 1.5 s)."""
    from analysis.publish import pages
    from analysis.publish.common import PandocStream
    from analysis.publish.email import pandoc_jobs as email_pandoc_jobs
    from analysis.publish.email import render_email
    from analysis.publish.site import (
        SITE_PAGES,
        copy_assets,
        finish_site,
        quarto_site,
        search_page_job,
        site_page_job,
    )
    from analysis.publish.slide import (
        content_from_notebook,
        html_job,
        png_tools_missing,
        render_slide,
    )

    started = time.monotonic()
    engine = resolve_engine(engine)
    pages.start_png_engine()  # for the email's chart: it starts beside the pages (outside the GIL)
    reused: bool | None = None  # None: the caller passed the report in
    if report is None:
        from analysis.report import report_for

        report, reused = report_for(config, progress=progress)
    simulated = bool((getattr(report, "dataset", {}) or {}).get("simulated", False))

    site_dir, build_dir = config.paths.site_dir, config.paths.build_dir
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        staging = site_dir.with_name(f".{site_dir.name}.partial")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        stage = outputs.open_build_stage(
            build_dir
        )  # this run's build outputs, published at the end
    except OSError as exc:
        raise TargetError(f"cannot write the outputs ({site_dir}, {build_dir}): {exc}") from exc

    # The pages see the staging folders as the site and the build folder (email images).
    page_config = config.replace(
        paths=dataclasses.replace(config.paths, site_dir=staging, build_dir=stage)
    )
    # the comparison with the previous report, from the masked findings the history will keep
    history_notes: list[str] = []  # damaged history entries the comparison skipped, one line each
    changes = history.changes_for(report, config, warn=history_notes.append)
    cache = pages.write_cache(report, page_config, build_dir / CACHE_NAME, changes)
    env = {**os.environ, "CURRICULUM_REPORT": str(cache)}  # for quarto's kernel, not read here
    summary = RenderSummary(engine=engine)
    if reused is not None:
        summary.notes.append(
            "reused the last analysis (snapshot, settings and code unchanged)"
            if reused
            else "analysed the snapshot (no saved analysis matched it)"
        )
    summary.notes += history_notes

    try:
        # Every page (site, slide, email) is executed once, in this process, from the same bundle. One
        # pandoc process converts each document (site page, search page, slide, email) as soon as
        # its page is executed (outside the GIL), beside the next pages' Python.
        with PandocStream("render") as converter:
            site_pages: list[tuple[Path, Future[str]]] = []
            search: Future[str] | None = None
            with InProcessRunner(cache) as runner:
                if engine == "quarto":
                    step("quarto render (site)", enabled=progress)
                    quarto_site(staging, env)
                else:
                    search = converter.add(
                        search_page_job(staging, config, simulated, report.dataset)
                    )
                    t0 = time.monotonic()
                    png_made = slide_png and png_tools_missing() is None  # the summary links it
                    for source in SITE_PAGES:
                        path = PROJECT_ROOT / source
                        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
                        markdown = notebook_markdown(runner.run(path))
                        root = "../" if "/" in source else ""
                        target = staging / source.replace(".qmd", ".html")
                        job = site_page_job(
                            markdown,
                            meta,
                            target,
                            root,
                            config,
                            simulated,
                            toc=root != "",
                            dataset=report.dataset,
                            site_dir=staging,
                            slide_png=png_made,
                        )
                        site_pages.append((target, converter.add(job)))
                        step(f"{source} executed ({time.monotonic() - t0:.1f}s)", enabled=progress)
                t0 = time.monotonic()
                slide_content = content_from_notebook(runner.run(PROJECT_ROOT / "slide.qmd"))
                # without slide.png the slide's HTML is known now (with it: once LibreOffice drew it)
                slide_html = (
                    None if slide_png else converter.add(html_job(slide_content, config, False))
                )
                slide_seconds = time.monotonic() - t0
                t0 = time.monotonic()
                email_path = PROJECT_ROOT / "email.qmd"
                email_meta, _ = split_front_matter(email_path.read_text(encoding="utf-8"))
                email_md = notebook_markdown(runner.run(email_path))
                email_docs = [converter.add(job) for job in email_pandoc_jobs(email_md)]
                email_seconds = time.monotonic() - t0
            t0 = time.monotonic()
            for target, document in site_pages:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(converter.get(document), encoding="utf-8")
            if site_pages:
                step(
                    f"{len(site_pages)} pages -> HTML, one pandoc process "
                    f"(waited {time.monotonic() - t0:.1f}s for it after the pages)",
                    enabled=progress,
                )
            copy_assets(staging)  # after the site: quarto may clean its output folder
            finish_site(
                staging,
                config,
                dataset=report.dataset,
                engine=engine,
                search_html=converter.get(search) if search is not None else None,
            )
            t0 = time.monotonic()
            slide_outputs, slide_notes = render_slide(
                slide_content,
                staging,
                stage,
                config,
                png=slide_png,
                html=converter.get(slide_html) if slide_html is not None else None,
            )
            summary.notes += slide_notes
            step(
                f"slide.qmd -> {', '.join(p.name for p in slide_outputs)} "
                f"({slide_seconds + time.monotonic() - t0:.1f}s)",
                enabled=progress,
            )
            t0 = time.monotonic() - email_seconds
            email_outputs, email_notes = render_email(
                [converter.get(document) for document in email_docs],
                email_meta,
                stage,
                staging / "slide.pptx",
                config,
                simulated,
            )
        email_outputs = [build_dir / path.name for path in email_outputs]
        summary.notes += email_notes
        step(f"email.qmd -> email.html, email.eml ({time.monotonic() - t0:.1f}s)", enabled=progress)
        summary.run_id = _publish(report, manifest, staging, stage, config)
    except UserError:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
        raise TargetError(f"cannot write the outputs ({site_dir}): {exc}") from exc
    # after the site: a failed render keeps none (a file the comparison already named is not named again)
    summary.notes += [n for n in history.record(report, config) if n not in summary.notes]

    summary.outputs = [site_dir / source.replace(".qmd", ".html") for source in SITE_PAGES] + [
        site_dir / path.name for path in slide_outputs
    ]
    summary.outputs += email_outputs
    summary.seconds = time.monotonic() - started
    return summary
