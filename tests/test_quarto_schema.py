"""The Quarto sources use only options Quarto knows, with the types it expects.

Quarto cannot be installed here, but the publishing workflow runs `quarto render`: an unknown or misspelt
option in `_quarto.yml`, a page's front matter or a `#|` cell option would first fail there. Quarto's own
option schema is copied in tests/quarto_schema/ (provenance in its README); this test reads the project's
sources and checks every option against it: names against the options defined (per format for
`format:`), values against the schema's types where it says boolean, string, number, enum, object, list.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.publish.render import cell_options, split_front_matter
from analysis.questions import NUMBERS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Path(__file__).resolve().parent / "quarto_schema"
SOURCES = sorted(
    [*ROOT.glob("*.qmd"), *ROOT.glob("questions/*.qmd")], key=lambda p: p.relative_to(ROOT)
)
_CODE_CELL = re.compile(r"^```\{python[^}]*\}\n(.*?)^```", re.M | re.S)
_IGNORED = {"description", "tags", "completions", "hidden", "default", "errorDescription", "id"}


# --- the schema -----------------------------------------------------------------------------------------


def _entries(pattern: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(SCHEMA.glob(pattern)):
        out += yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return out


@functools.cache
def definitions() -> dict[str, Any]:
    return {entry["id"]: entry for entry in _entries("definitions.yml")}


@functools.cache
def format_aliases() -> dict[str, list[str]]:
    return yaml.safe_load((SCHEMA / "format-aliases.yml").read_text(encoding="utf-8"))["aliases"]


def _expand(names: list[str]) -> set[str]:
    """Format names with $aliases resolved (recursively)."""
    out: set[str] = set()
    for name in names:
        if name.startswith("$"):
            out |= _expand(format_aliases()[name[1:]])
        else:
            out.add(name)
    return out


def applies_to(entry: dict[str, Any], fmt: str) -> bool:
    """Whether a document option applies to output format `fmt` (tags.formats, with !negations)."""
    formats = ((entry.get("tags") or {}).get("formats")) or []
    if not formats:
        return True
    wanted = [f for f in formats if not f.startswith("!")]
    banned = _expand([f[1:] for f in formats if f.startswith("!")])
    if fmt in banned:
        return False
    return not wanted or fmt in _expand(wanted)


def _named(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in entries:
        if "name" not in entry:
            continue
        out[entry["name"]] = entry
        if entry.get("alias"):
            out[entry["alias"]] = entry
    return out


@functools.cache
def document_options() -> dict[str, dict[str, Any]]:
    return _named(_entries("document-*.yml"))


@functools.cache
def cell_options_schema() -> dict[str, dict[str, Any]]:
    return _named(_entries("cell-*.yml"))


@functools.cache
def project_options() -> dict[str, dict[str, Any]]:
    return _named(_entries("project.yml"))


def execute_options() -> dict[str, dict[str, Any]]:
    """What `execute:` accepts: the options Quarto tags with the document-execute context."""
    every = {**document_options(), **cell_options_schema()}
    return {
        name: entry
        for name, entry in every.items()
        if "document-execute" in ((entry.get("tags") or {}).get("contexts") or [])
        or (entry.get("tags") or {}).get("execute-only")
    } | {name: entry for name, entry in _named(_entries("document-execute.yml")).items()}


# --- a validator for Quarto's schema language (the parts the sources can meet) --------------------------


def check(value: Any, schema: Any, where: str) -> list[str]:
    """Errors of `value` against a schema of Quarto's schema language ([] when it conforms)."""
    if isinstance(schema, str):
        return _check_named(value, schema, where)
    if not isinstance(schema, dict):
        return []
    for key in ("schema", "ref", "resolveRef"):
        if key in schema:
            target = schema[key]
            if key != "schema":
                target = {k: v for k, v in definitions()[target].items() if k not in _IGNORED}
            return check(value, target, where)
    if "anyOf" in schema:
        results = [check(value, option, where) for option in schema["anyOf"]]
        if any(not errors for errors in results):
            return []
        # an option whose type matched and failed deeper says more than "no form fits"
        deeper = [
            errors for errors in results if any(not e.startswith(f"{where}: ") for e in errors)
        ]
        return deeper[0] if deeper else [f"{where}: {value!r} fits no allowed form"]
    if "allOf" in schema:
        return [e for option in schema["allOf"] for e in check(value, option, where)]
    if "enum" in schema:
        allowed = schema["enum"]
        allowed = allowed.get("values", []) if isinstance(allowed, dict) else allowed
        return [] if value in allowed else [f"{where}: {value!r} is not one of {allowed}"]
    if "arrayOf" in schema:
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r}"]
        item = schema["arrayOf"]
        item = item.get("schema", item) if isinstance(item, dict) and "length" in item else item
        return [e for i, v in enumerate(value) for e in check(v, item, f"{where}[{i}]")]
    if "maybeArrayOf" in schema:
        items = value if isinstance(value, list) else [value]
        return [
            e
            for i, v in enumerate(items)
            for e in check(v, schema["maybeArrayOf"], f"{where}[{i}]")
        ]
    if "object" in schema:
        return _check_object(value, schema["object"] or {}, where)
    for name in ("string", "path", "boolean", "number", "null", "any"):
        if name in schema:
            return _check_named(value, name, where)
    return []


def _check_named(value: Any, name: str, where: str) -> list[str]:
    ok = {
        "string": isinstance(value, str),
        "path": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "null": value is None,
        "object": isinstance(value, dict),
        "any": True,
    }
    if name in ok:
        return [] if ok[name] else [f"{where}: expected {name}, got {value!r}"]
    if name in definitions():
        return check(value, {"ref": name}, where)
    return []


def _object_properties(spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(properties including those of `super`, closed?)."""
    properties = dict(spec.get("properties") or {})
    closed = bool(spec.get("closed"))
    supers = spec.get("super") or []
    for parent in supers if isinstance(supers, list) else [supers]:
        target = definitions()[parent["resolveRef"]]
        inner = target.get("object") or {}
        more, parent_closed = _object_properties(inner)
        properties = {**more, **properties}
        closed = closed or parent_closed
    return properties, closed


def _check_object(value: Any, spec: dict[str, Any], where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected a mapping, got {value!r}"]
    properties, closed = _object_properties(spec)
    errors = []
    for key, item in value.items():
        if key in properties:
            errors += check(item, properties[key], f"{where}.{key}")
        elif "additionalProperties" in spec:
            errors += check(item, spec["additionalProperties"], f"{where}.{key}")
        elif closed:
            errors.append(f"{where}: unknown option {key!r}")
    return errors


# --- the sources' options -------------------------------------------------------------------------------


def check_front_matter(meta: dict[str, Any], where: str, project: bool = False) -> list[str]:
    """Errors of a document's front matter (or of _quarto.yml with `project=True`)."""
    errors: list[str] = []
    top = {**document_options(), **cell_options_schema()}
    for key, value in meta.items():
        if key == "format":
            errors += check_formats(value, f"{where}: format")
        elif key == "execute":
            errors += _check_options(value, execute_options(), f"{where}: execute")
        elif project and key in project_options():
            errors += check(value, project_options()[key].get("schema"), f"{where}: {key}")
        elif key in top:
            errors += check(value, top[key].get("schema"), f"{where}: {key}")
        else:
            errors.append(f"{where}: unknown option {key!r}")
    return errors


def check_formats(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = {value: "default"}
    if not isinstance(value, dict):
        return [f"{where}: expected a format name or a mapping, got {value!r}"]
    errors = []
    known = _expand(["$pandoc-all"]) | {"dashboard", "email"}
    for fmt, options in value.items():
        if fmt not in known:
            errors.append(f"{where}: unknown format {fmt!r}")
            continue
        if options in ("default", None):
            continue
        applicable = {
            name: entry for name, entry in document_options().items() if applies_to(entry, fmt)
        } | cell_options_schema()
        errors += _check_options(options, applicable, f"{where}.{fmt}")
    return errors


def _check_options(options: Any, allowed: dict[str, dict[str, Any]], where: str) -> list[str]:
    if not isinstance(options, dict):
        return [f"{where}: expected a mapping, got {options!r}"]
    errors = []
    for key, value in options.items():
        if key not in allowed:
            errors.append(f"{where}: unknown option {key!r}")
        else:
            errors += check(value, allowed[key].get("schema"), f"{where}.{key}")
    return errors


def check_cells(text: str, where: str) -> list[str]:
    errors = []
    for number, match in enumerate(_CODE_CELL.finditer(text), start=1):
        options = cell_options(match.group(1))
        errors += _check_options(options, cell_options_schema(), f"{where}: cell {number}")
    return errors


# --- the project's sources ------------------------------------------------------------------------------


def test_every_source_is_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in SOURCES}
    assert {"index.qmd", "methods.qmd", "slide.qmd", "email.qmd"} <= names
    assert {f"questions/q{n}.qmd" for n in NUMBERS} <= names


def test_quarto_yml_uses_only_quarto_options() -> None:
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    assert check_front_matter(config, "_quarto.yml", project=True) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_front_matter_uses_only_quarto_options(path: Path) -> None:
    meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
    assert check_front_matter(meta, path.name) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_cell_options_are_quarto_options(path: Path) -> None:
    assert check_cells(path.read_text(encoding="utf-8"), path.name) == []


def test_question_pages_label_and_caption_their_floats() -> None:
    """Every figure and table cell of a question page has a fig-/tbl- label and its caption."""
    seen: dict[str, str] = {}
    for path in sorted(ROOT.glob("questions/q*.qmd")):
        cells = [cell_options(m.group(1)) for m in _CODE_CELL.finditer(path.read_text("utf-8"))]
        floats = [c for c in cells if str(c.get("label", "")).startswith(("fig-", "tbl-"))]
        assert any(str(c["label"]).startswith("fig-") for c in floats), path.name
        for options in floats:
            kind = str(options["label"]).split("-", 1)[0]
            assert str(options.get(f"{kind}-cap", "")).strip(), (path.name, options)
        labels = [str(c["label"]) for c in floats]
        assert len(labels) == len(set(labels)), (path.name, labels)
        seen[path.name] = " ".join(labels)
    assert len(set(seen.values())) == len(seen)  # no two question pages show the same floats


# --- the checks catch wrong options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "fragment"),
    [
        ({"titel": "x"}, "unknown option 'titel'"),
        ({"toc": "yes"}, "expected boolean"),
        ({"format": {"html": {"toc-dept": 2}}}, "unknown option 'toc-dept'"),
        (
            {"format": {"pptx": {"slide-number": True}}},
            "unknown option 'slide-number'",
        ),  # revealjs only
        ({"format": {"htlm": "default"}}, "unknown format 'htlm'"),
        ({"execute": {"echo": "no"}}, "fits no allowed form"),
        ({"format": {"html": {"code-overflow": "hide"}}}, "is not one of"),
    ],
)
def test_wrong_front_matter_fails(meta: dict[str, Any], fragment: str) -> None:
    errors = check_front_matter(meta, "page.qmd")
    assert any(fragment in e for e in errors), errors


def test_wrong_quarto_yml_fails() -> None:
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    config["website"]["navbar"]["left"].append({"txt": "Typo", "href": "index.qmd"})
    config["project"]["output"] = "_site"
    errors = check_front_matter(config, "_quarto.yml", project=True)
    assert any("unknown option 'output'" in e for e in errors), errors
    assert any("navbar.left" in e for e in errors), errors
    assert check_front_matter({"projekt": {}}, "_quarto.yml", project=True)


def test_wrong_cell_options_fail() -> None:
    text = (
        "```{python}\n#| label: fig-x\n#| fig-capt: A typo\n1\n```\n\n"
        "```{python}\n#| echo: maybe\n#| warning: false\n2\n```\n"
    )
    errors = check_cells(text, "page.qmd")
    assert any("cell 1" in e and "unknown option 'fig-capt'" in e for e in errors), errors
    assert any("cell 2" in e and "echo" in e for e in errors), errors
    assert check_cells("```{python}\n#| label: fig-x\n#| fig-cap: Fine\n1\n```\n", "ok.qmd") == []


# --- resources: nothing from an output folder is copied into the site ------------------------------------


def quarto_glob(pattern: str) -> re.Pattern[str]:
    """A Quarto resource glob as a regex over project-relative POSIX paths. Quarto's globs match at any
    depth unless they start with "/" (quarto.org/docs/reference/globs.html); a folder matches everything
    under it; `*` stays within one folder, `**` crosses folders."""
    anchored = pattern.startswith("/")
    body = pattern.strip("/")
    parts = []
    for piece in re.split(r"(\*\*/?|\*|\?)", body):
        if piece in ("**", "**/"):
            parts.append(r"(?:.*/)?" if piece.endswith("/") else r".*")
        elif piece == "*":
            parts.append(r"[^/]*")
        elif piece == "?":
            parts.append(r"[^/]")
        else:
            parts.append(re.escape(piece))
    prefix = "" if anchored else r"(?:.*/)?"
    return re.compile(rf"^{prefix}{''.join(parts)}(?:/.*)?$")


def output_paths(config: dict[str, Any]) -> list[str]:
    """Files a previous build leaves in the output folders: Quarto's output-dir, the default site folder,
    and render's staging and swap folders beside it."""
    from analysis.config import Config

    names = {str(config["project"]["output-dir"]).strip("/"), Config().paths.site_dir.name}
    folders = {f for name in names for f in (name, f".{name}.partial", f".{name}.old")}
    files = ("index.html", "assets/vega.min.js", "assets/reveal.js/reveal.js", "questions/q1.html")
    return sorted(f"{folder}/{file}" for folder in folders for file in files)


def test_resource_globs_cannot_match_anything_in_an_output_folder() -> None:
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    globs = config["project"].get("resources") or []
    globs = [globs] if isinstance(globs, str) else globs
    paths = output_paths(config)
    for glob in globs:
        if str(glob).startswith("!"):
            continue  # an exclusion removes files, it never adds one
        matched = [path for path in paths if quarto_glob(str(glob)).match(path)]
        assert not matched, f"resource glob {glob!r} would copy {matched} into the site"


def test_the_glob_check_catches_an_unanchored_folder() -> None:
    """The check can fail: the glob issue 17 found (`assets/`) matches the previous site's assets."""
    assert quarto_glob("assets/").match("_site/assets/vega.min.js")
    assert quarto_glob("*.css").match("_site/assets/site.css")
    assert not quarto_glob("/assets/").match("_site/assets/vega.min.js")
    assert quarto_glob("/assets/").match("assets/vega.min.js")
    assert not quarto_glob("/*.css").match("_site/site.css")
