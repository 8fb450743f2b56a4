"""The exit code of a finished run, read from its results document alone."""

import pytest

from loadtest_supervisor.exit_codes import ExitCode, verdict


@pytest.mark.parametrize(
    ("interrupted", "passed", "code"),
    [(False, True, 0), (False, False, 1), (True, True, 130), (True, False, 130)],
)
def test_verdict(interrupted: bool, passed: bool, code: int) -> None:
    # An interrupted run still has a verdict in its document, but CI must see the Ctrl-C.
    assert verdict({"interrupted": interrupted, "passed": passed}) == code


def test_the_codes_are_the_documented_numbers() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "CONFIG": 2,
        "CANNOT_RUN": 3,
        "INTERRUPTED": 130,
    }
