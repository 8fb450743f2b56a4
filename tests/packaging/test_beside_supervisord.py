"""Our distribution and supervisord's share one site-packages without harm.

Both used to install a top-level ``supervisor`` package: with both installed they
shared one folder, and ``pip uninstall supervisor`` broke ``loadtest-supervisor``.
The wheel is built from this checkout and installed for real (not editable), into
a scratch venv that takes our dependencies from the repo's .venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = (".git", ".venv", ".cache", "build", "dist", "*.egg-info", "__pycache__")


def _run(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Our wheel, and everything the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    # From a copy: setuptools builds in ./build, and a stale module left there by a
    # move would ship in the wheel.
    source = tmp_path_factory.mktemp("source") / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    log = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-v",
        "--no-deps",
        "--no-build-isolation",
        source,
        "-w",
        out,
    )
    (built,) = out.glob("loadtest_supervisor-*.whl")
    return built, log


def test_building_prints_no_deprecation_warning(wheel: tuple[Path, str]) -> None:
    built, log = wheel
    assert built.stat().st_size > 0
    warnings = [line for line in log.splitlines() if "deprecat" in line.lower()]
    assert warnings == []


def test_the_wheel_holds_our_one_package_and_nothing_else(wheel: tuple[Path, str]) -> None:
    with zipfile.ZipFile(wheel[0]) as archive:
        modules = {n for n in archive.namelist() if n.endswith(".py")}
    expected = {
        f"loadtest_supervisor/{p.relative_to(ROOT / 'supervisor')}"
        for p in (ROOT / "supervisor").rglob("*.py")
    } | {
        f"loadtest_supervisor/plugins/{p.relative_to(ROOT / 'plugins')}"
        for p in (ROOT / "plugins").rglob("*.py")
    }
    assert modules == expected


def test_the_wheel_carries_the_package_data(wheel: tuple[Path, str]) -> None:
    # The HTML report inlines its style sheet from the installed package.
    with zipfile.ZipFile(wheel[0]) as archive:
        assert "loadtest_supervisor/report/report.css" in archive.namelist()


def test_the_wheel_holds_the_dashboards_page_script_and_style(wheel: tuple[Path, str]) -> None:
    static = ROOT / "supervisor" / "live" / "static"
    with zipfile.ZipFile(wheel[0]) as archive:
        shipped = {
            name: archive.read(name)
            for name in archive.namelist()
            if name.startswith("loadtest_supervisor/live/static/")
        }
    expected = {
        f"loadtest_supervisor/live/static/{p.name}": p.read_bytes() for p in static.iterdir()
    }
    assert len(expected) == 3 and shipped == expected


def test_installing_and_removing_supervisord_leaves_both_clis_working(
    wheel: tuple[Path, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    )
    # Our dependencies come from the repo's venv, listed after the scratch site-packages.
    (site / "repo_venv_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = (python, "-m", "pip", "install", "-q", "--disable-pip-version-check")
    _run(*pip, "--no-deps", wheel[0])
    _run(*pip, "supervisor")
    ours, theirs = venv / "bin" / "loadtest-supervisor", venv / "bin" / "supervisord"

    assert "loadtest-supervisor" in _run(ours, "--version")
    assert _run(theirs, "--version").strip()[0].isdigit()
    assert (site / "supervisor" / "supervisord.py").is_file()
    assert not (site / "supervisor" / "cli.py").exists()  # not one file of ours in theirs

    _run(python, "-m", "pip", "uninstall", "-y", "-q", "supervisor")
    assert "loadtest-supervisor" in _run(ours, "--version")
    # A real one-second run: the spawned workers import the package too.
    short_run = {"TEST_DURATION": "1s", "LOADTEST_WORKERS": "1", "HTTP_API_ENABLED": "false"}
    assert "PASSED" in _run(ours, "--demo-target", env=short_run)

    _run(*pip, "supervisor")
    _run(python, "-m", "pip", "uninstall", "-y", "-q", "loadtest-supervisor")
    assert _run(theirs, "--version").strip()[0].isdigit()
    assert not ours.exists()
