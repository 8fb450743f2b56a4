"""Our code imports itself only as ``loadtest_supervisor``.

pytest's ``pythonpath = ["."]`` puts the repo root on ``sys.path``, so a missed
rename (``import supervisor.cli``) would still import the folder by its old name
here and only break once installed: this test reads the source instead.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(:\w+)?")
OLD_NAMES = ("supervisor", "plugins")
OUR_FOLDERS = ("supervisor", "plugins", "tests", "bench", "examples", "scripts")


def _our_python_files() -> list[Path]:
    files = []
    for folder in OUR_FOLDERS:
        files += [p for p in (ROOT / folder).rglob("*.py") if "_pb2" not in p.name]
    return files


def _old_names_in(path: Path) -> list[str]:
    """Imports of an old name, and strings naming a module by one (``-m supervisor.cli``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if _names_our_module(node.value) else []
        else:
            continue
        found += [f"{path.name}:{node.lineno}: {n}" for n in names if n.split(".")[0] in OLD_NAMES]
    return found


def _names_our_module(text: str) -> bool:
    if not DOTTED.fullmatch(text):
        return False  # prose, a path: not a module name
    head, _, rest = text.partition(".")
    first = re.split(r"[.:]", rest)[0]
    return bool(first) and (
        (ROOT / head / first).is_dir() or (ROOT / head / f"{first}.py").is_file()
    )


def test_the_check_finds_old_names(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import supervisor.cli\nfrom plugins.raft import consensus\n"
        "ARGV = ['-m', 'supervisor.demo.target', 'supervisor.nothing_here', 'plugins']\n"
    )
    assert len(_old_names_in(sample)) == 3


def test_no_module_of_ours_imports_an_old_name() -> None:
    files = _our_python_files()
    assert len(files) > 50
    problems = [p for path in files for p in _old_names_in(path)]
    assert problems == []


def test_the_distribution_installs_one_top_level_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    tops = {name.split(".")[0] for name in setuptools["packages"]}
    assert tops == {"loadtest_supervisor"}
    assert setuptools["package-dir"] == {
        "loadtest_supervisor": "supervisor",
        "loadtest_supervisor.plugins": "plugins",
    }
    # Every package folder of ours is listed, so none is left out of a wheel.
    listed = set(setuptools["packages"])
    for folder, prefix in (
        ("supervisor", "loadtest_supervisor"),
        ("plugins", "loadtest_supervisor.plugins"),
    ):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((prefix, *rel)) in listed, init
    targets = [project["project"]["scripts"]["loadtest-supervisor"]]
    for group in project["project"]["entry-points"].values():
        targets += list(group.values())
    assert all(t.startswith("loadtest_supervisor.") for t in targets), targets
