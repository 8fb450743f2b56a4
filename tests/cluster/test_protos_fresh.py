"""The committed generated code matches protos/loadtest.proto (run scripts/gen-protos)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIRE = ROOT / "supervisor" / "cluster" / "wire"
GENERATED = ("loadtest_pb2.py", "loadtest_pb2.pyi", "loadtest_pb2_grpc.py")


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "gen-protos"), str(tmp_path)], check=True)
    stale = [
        name for name in GENERATED if (tmp_path / name).read_text() != (WIRE / name).read_text()
    ]
    assert not stale, f"stale generated code {stale}: run scripts/gen-protos and commit"
