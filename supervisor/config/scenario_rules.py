"""Rules across a whole scenario: unique names and where a ``${var}`` may be used.

They read the raw tree, before the models validate it, so that no other error in
a step hides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadtest_supervisor.config.builder import Builder
from loadtest_supervisor.config.errors import show_value
from loadtest_supervisor.config.variables import (
    NODE_VARS,
    VAR_NAME_ALLOWED,
    is_var_name,
    placeholders,
)


@dataclass(frozen=True)
class GivenVars:
    """The variables every step has before any extraction: the node's place, and the
    columns of the plan's data file (``file`` names it in messages)."""

    file: str | None = None
    columns: Sequence[str] = ()
    # False when the data file could not be read: its error is reported, and no step is
    # blamed for using a column that may well be in it.
    known: bool = True

    def has(self, var: str) -> bool:
        return var in NODE_VARS or var in self.columns or not self.known

    def describe(self) -> str:
        given = ", ".join(NODE_VARS)
        if self.file is not None:
            given += f", the columns of {self.file} ({', '.join(self.columns)})"
        return given


def check_scenarios(builder: Builder, scenarios: Any, given: GivenVars = GivenVars()) -> None:
    """Unique names and ``${var}`` use; read from the raw tree so no other error hides them."""
    if not isinstance(scenarios, list):
        return
    first_index: dict[str, int] = {}
    for i, scenario in enumerate(scenarios):
        if not isinstance(scenario, dict):
            continue
        name = scenario.get("name")
        if isinstance(name, str):
            if name in first_index:
                builder.problems.append(
                    f"{builder.label_of(('scenarios', i, 'name'))}={name!r}: must be unique; "
                    f"scenarios[{first_index[name]}] has the same name"
                )
            first_index.setdefault(name, i)
        steps = scenario.get("steps")
        if isinstance(steps, list):
            _check_steps(builder, i, name, steps, given)


def _check_steps(
    builder: Builder, i: int, scenario: Any, steps: list[Any], given: GivenVars
) -> None:
    extracted_by: dict[str, int] = {}
    for j, step in enumerate(steps):
        extract = step.get("extract") if isinstance(step, dict) else None
        for var in extract if isinstance(extract, dict) else ():
            extracted_by.setdefault(var, j)
            if var in NODE_VARS or var in given.columns:
                what = "given to every step"
                if var in given.columns:
                    what = f"a column of {given.file}"
                builder.problems.append(
                    f"{builder.label_of(('scenarios', i, 'steps', j, 'extract', var))}: "
                    f"{var!r} is {what}, and extracting it would hide that; allowed: "
                    f"a name other than {given.describe()}"
                )
    defined: list[str] = []
    first_index: dict[str, int] = {}
    for j, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        name = _step_name(step)
        if name is not None:
            if name in first_index:
                builder.problems.append(
                    f"{builder.label_of(('scenarios', i, 'steps', j, 'name'))}={name!r}: must "
                    f"be unique in scenario {scenario!r}; steps[{first_index[name]}] has "
                    "the same name (set name: to tell them apart)"
                )
            first_index.setdefault(name, j)
        for field in ("path", "headers", "query", "body", "json"):
            for var in sorted(set(placeholders(step.get(field)))):
                reason = _undefined_var(var, j, defined, extracted_by, given)
                if reason:
                    label = builder.label_of(("scenarios", i, "steps", j, field))
                    where = f"in step {name!r} of scenario {scenario!r}"
                    builder.problems.append(
                        f"{label}={show_value(step[field])}: ${{{var}}} {where} {reason}"
                    )
        extract = step.get("extract")
        for var in extract if isinstance(extract, dict) else ():
            if isinstance(var, str) and is_var_name(var) and var not in defined:
                defined.append(var)


def check_no_placeholders(builder: Builder, tree: dict[Any, Any]) -> None:
    """``${var}`` outside scenario steps: no step has extracted anything there."""
    for path in (
        ("target", "url"),
        ("target", "headers"),
        ("request", "body"),
        ("request", "json"),
    ):
        node: Any = tree
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        for var in sorted(set(placeholders(node))):
            builder.problems.append(
                f"{builder.label_of(path)}={show_value(node)}: ${{{var}}} cannot be used here; "
                "allowed: variables only in scenario steps"
            )


def _undefined_var(
    var: str, j: int, defined: list[str], extracted_by: dict[str, int], given: GivenVars
) -> str:
    """Why step ``j`` cannot use ``${var}``, or "" when it can."""
    if not is_var_name(var):
        return f"is not a variable name; allowed: {VAR_NAME_ALLOWED}, e.g. ${{token}}"
    if var in defined or given.has(var):
        return ""
    later = extracted_by.get(var)
    why = ""
    if later == j:
        why = " (this step extracts it, so only later steps can use it)"
    elif later is not None:
        why = f" (steps[{later}] extracts it, but runs later)"
    available = ", ".join(defined) or "none yet"
    column = f"a column of {given.file} nor " if given.file is not None else ""
    return (
        f"is not {column}extracted by an earlier step{why}; "
        f"allowed: {given.describe()}, variables extracted by earlier steps ({available})"
    )


def _step_name(step: dict[Any, Any]) -> str | None:
    name, method, path = step.get("name"), step.get("method") or "GET", step.get("path")
    if isinstance(name, str):
        return name
    if isinstance(method, str) and isinstance(path, str):
        return f"{method.strip().upper()} {path}"
    return None
