"""Render the site, the slide and the email from the report, with or without Quarto.

Engine "quarto" runs `quarto render` on the project (when the binary is on PATH). Engine "pandoc" (the
default without Quarto) renders the same .qmd sources itself:

    .qmd --jupytext (read as R Markdown)--> notebook --nbclient (one kernel for all pages)-->
    executed notebook --nbconvert MarkdownExporter (inputs and streams removed)--> Markdown
    --pandoc (pypandoc-binary, templates/site.html)--> _site/*.html

The pages do not compute anything: render pickles the report and the config once
(`_build/findings-cache`, passed to the kernel as CURRICULUM_REPORT) and the pages read it. The slide is
one content object from slide.qmd drawn as pptx (python-pptx, native chart), PNG (LibreOffice) and HTML; the email is a pandoc HTML fragment with
CSS inlined (css_inline), charts as cid: PNG images, packed in an .eml with the .pptx attached.

Everything the outputs load is copied into _site/assets/ (vega, vega-lite, vega-embed, reveal.js): no
CDN, the site works offline. The site is rendered into a staging folder and swapped in at the end, so a
failed render leaves the previous site in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import os
import re
import shutil
import time
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
    import nbformat
    from nbconvert import MarkdownExporter

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
        cells += [nbformat.v4.new_markdown_cell(opening), cell]
        cells.append(nbformat.v4.new_markdown_cell(closing))
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
    exporter = MarkdownExporter(exclude_input=True, exclude_input_prompt=True)
    body, _ = exporter.from_notebook_node(notebook)
    return body


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
) -> RenderSummary:
    """Site, slide, email and findings.json from the report (computed from the snapshot when not
    given), published together as one run (publish/outputs.py); with `manifest` (the snapshot the
    given report answers) the report cache is published with them."""
    from analysis.publish import pages
    from analysis.publish.email import render_email
    from analysis.publish.site import SITE_PAGES, copy_assets, finish_site, quarto_site, site_page
    from analysis.publish.slide import content_from_notebook, render_slide

    started = time.monotonic()
    engine = resolve_engine(engine)
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
    cache = pages.write_cache(report, page_config, build_dir / CACHE_NAME)
    env = {**os.environ, "CURRICULUM_REPORT": str(cache)}  # forwarded to the kernel, not read here
    summary = RenderSummary(engine=engine)
    if reused is not None:
        summary.notes.append(
            "reused the last analysis (snapshot, settings and code unchanged)"
            if reused
            else "analysed the snapshot (no saved analysis matched it)"
        )

    try:
        with PageRunner(env, build_dir / "kernel.log") as runner:
            if engine == "quarto":
                step("quarto render (site)", enabled=progress)
                quarto_site(staging, env)
            else:
                for source in SITE_PAGES:
                    t0 = time.monotonic()
                    path = PROJECT_ROOT / source
                    meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
                    markdown = notebook_markdown(runner.run(path))
                    root = "../" if "/" in source else ""
                    site_page(
                        markdown,
                        meta,
                        staging / source.replace(".qmd", ".html"),
                        root,
                        config,
                        simulated,
                        toc=root != "",
                        dataset=report.dataset,
                        site_dir=staging,
                    )
                    step(f"{source} ({time.monotonic() - t0:.1f}s)", enabled=progress)
            copy_assets(staging)  # after the site: quarto may clean its output folder
            finish_site(
                staging,
                config,
                simulated=simulated,
                dataset=report.dataset,
                engine=engine,
            )
            t0 = time.monotonic()
            slide_content = content_from_notebook(runner.run(PROJECT_ROOT / "slide.qmd"))
            slide_seconds = time.monotonic() - t0
            t0 = time.monotonic()
            email_path = PROJECT_ROOT / "email.qmd"
            email_meta, _ = split_front_matter(email_path.read_text(encoding="utf-8"))
            email_md = notebook_markdown(runner.run(email_path))
            email_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        slide_outputs, slide_notes = render_slide(slide_content, staging, stage, config)
        summary.notes += slide_notes
        step(
            f"slide.qmd -> {', '.join(p.name for p in slide_outputs)} "
            f"({slide_seconds + time.monotonic() - t0:.1f}s)",
            enabled=progress,
        )
        t0 = time.monotonic() - email_seconds
        email_outputs, email_notes = render_email(
            email_md, email_meta, stage, staging / "slide.pptx", config, simulated
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
    summary.notes += history.record(report, config)  # after the site: a failed render keeps none

    summary.outputs = [site_dir / source.replace(".qmd", ".html") for source in SITE_PAGES] + [
        site_dir / path.name for path in slide_outputs
    ]
    summary.outputs += email_outputs
    summary.seconds = time.monotonic() - started
    return summary
