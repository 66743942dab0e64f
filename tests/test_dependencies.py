"""Dependencies: declared where they are used, locked with hashes, split runtime / test / bench.

pyproject.toml declares what each part imports ([project] dependencies for src/, the `test` group for
tests/, the `bench` group for bench/); requirements/*.txt lock them (exact versions, sha256 hashes) and
`make install` installs the runtime lock only, with `pip install --require-hashes`.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from analysis.config import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCKS = {
    name: PROJECT_ROOT / "requirements" / f"{name}.txt" for name in ("runtime", "test", "bench")
}
# Needed without being imported: the Jupyter kernel the pages run in, the build backend.
NOT_IMPORTED = {"ipykernel", "setuptools"}
# Tools the test group runs as programs (not imported).
TOOLS = {"ruff", "mypy", "zizmor", "uv", "types-pyyaml"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return norm(re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0])


def third_party_imports(folder: Path) -> set[str]:
    """Top-level modules imported anywhere under folder, minus the standard library and our own."""
    local = {path.stem for path in folder.glob("*.py")} | {"analysis", "conftest"}
    modules: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif (  # pytest.importorskip("x.y") is an import too
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                modules.add(str(node.args[0].value).split(".")[0])
    return modules - set(sys.stdlib_module_names) - local


def distributions(modules: set[str], installed: bool = True) -> set[str]:
    """The distributions providing `modules`. installed=False (bench/: its lock is not in the test
    venv): a module that is not installed is taken to be named like its distribution (pandas, duckdb)."""
    mapping = packages_distributions()
    missing = sorted(m for m in modules if m not in mapping)
    assert not installed or not missing, f"imported but not installed: {missing}"
    return {norm(dist) for module in modules for dist in mapping.get(module, [module])}


def declared(group: str | None) -> set[str]:
    if group is None:
        specs = PYPROJECT["project"]["dependencies"]
    else:
        specs = PYPROJECT["dependency-groups"][group]
    return {requirement_name(spec) for spec in specs}


def lock_pins(path: Path) -> dict[str, str]:
    return {
        norm(m.group(1)): m.group(2) for m in map(PIN.match, path.read_text().splitlines()) if m
    }


def test_src_imports_exactly_the_runtime_dependencies() -> None:
    imported = distributions(third_party_imports(PROJECT_ROOT / "src" / "analysis"))
    runtime = declared(None)
    assert imported - runtime == set(), "imported by src/ but not in [project] dependencies"
    assert runtime - imported - NOT_IMPORTED == set(), "declared but never imported by src/"


def test_tests_and_bench_import_only_what_their_group_declares() -> None:
    runtime = declared(None)
    tests = distributions(third_party_imports(PROJECT_ROOT / "tests"))
    assert tests - runtime - declared("test") == set(), "imported by tests/, not in the test group"
    assert declared("test") - tests - TOOLS == set(), "in the test group but never imported"
    bench = distributions(third_party_imports(PROJECT_ROOT / "bench"), installed=False)
    assert bench - runtime - declared("bench") == set(), (
        "imported by bench/, not in the bench group"
    )


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_locked_package_is_pinned_and_hashed(name: str) -> None:
    text = LOCKS[name].read_text(encoding="utf-8")
    # One entry per requirement: "name==version [; marker] \" then its --hash lines.
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    assert len(entries) > 10
    for entry in entries:
        if entry.startswith("#"):
            continue
        assert PIN.match(entry), f"{name}: not pinned with ==: {entry.splitlines()[0]}"
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{name}: no hash: {entry[:60]}"


def test_locks_hold_what_pyproject_declares_and_agree_on_versions() -> None:
    pins = {name: lock_pins(path) for name, path in LOCKS.items()}
    build = declared("build")
    assert declared(None) | build <= set(pins["runtime"])
    assert declared(None) | build | declared("test") <= set(pins["test"])
    assert declared(None) | build | declared("bench") <= set(pins["bench"])
    # Test tools stay off the publishing runner.
    assert not declared("test") & set(pins["runtime"])
    for name in ("test", "bench"):
        for package, version in pins["runtime"].items():
            assert pins[name].get(package) == version, f"{name}.txt: {package} differs from runtime"


def _points_at_the_runtime_lock(path: Path) -> bool:
    """requirements.txt at the top may only include the hashed runtime lock (tests/test_requirements.py)."""
    lines = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return path.name == "requirements.txt" and lines == ["-r requirements/runtime.txt"]


def test_no_unlocked_requirements_file() -> None:
    """Only the hashed locks: a stray requirements.txt with bare pins would be installed by no one (the
    top-level requirements.txt is the runtime lock itself, included with -r)."""
    stray = [
        path.relative_to(PROJECT_ROOT)
        for path in [*PROJECT_ROOT.glob("requirements*.txt"), *PROJECT_ROOT.glob("bench/req*.txt")]
        if not _points_at_the_runtime_lock(path)
    ]
    assert stray == []


def test_make_install_uses_the_hashed_runtime_lock_only() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install[^\n]*", makefile)
    assert installs
    for line in installs:
        assert "--require-hashes" in line or ("--no-deps" in line and "-e ." in line), line
    assert "PIP_LOCKED) requirements/runtime.txt" in makefile
    assert "--no-build-isolation" in makefile  # the build backend comes from the lock too
