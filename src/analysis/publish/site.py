"""The website: one HTML page per .qmd (pandoc + templates/site.html), its assets, or `quarto render`."""

from __future__ import annotations

import datetime as dt
import html
import shutil
import subprocess
from pathlib import Path
from typing import Any

from analysis.config import PROJECT_ROOT, Config
from analysis.errors import TargetError
from analysis.publish.common import NODE_MODULES, TEMPLATES, pandoc

SITE_PAGES = ("index.qmd", *(f"questions/q{n}.qmd" for n in range(1, 9)), "methods.qmd")
VEGA_ASSETS = {
    "vega.min.js": "vega/build/vega.min.js",
    "vega-lite.min.js": "vega-lite/build/vega-lite.min.js",
    "vega-embed.min.js": "vega-embed/build/vega-embed.min.js",
}


def site_page(
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
    target.write_text(pandoc(document, "html", extra, where=str(target.name)), encoding="utf-8")
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


def quarto_site(site_dir: Path, env: dict[str, str]) -> None:
    """`quarto render` of the website into site_dir (assets/ copied before, kept by quarto as a resource)."""
    command = ["quarto", "render", "--output-dir", str(site_dir)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise TargetError(f"quarto render failed (exit {result.returncode}):\n{tail}")
