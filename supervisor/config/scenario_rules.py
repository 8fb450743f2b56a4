"""Rules across a whole scenario: unique names and where a ``${var}`` may be used.

They read the raw tree, before the models validate it, so that no other error in
a step hides them.
"""

from __future__ import annotations

from typing import Any

from loadtest_supervisor.config.builder import Builder
from loadtest_supervisor.config.errors import show_value
from loadtest_supervisor.config.variables import VAR_NAME_ALLOWED, is_var_name, placeholders


def check_scenarios(builder: Builder, scenarios: Any) -> None:
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
            _check_steps(builder, i, name, steps)


def _check_steps(builder: Builder, i: int, scenario: Any, steps: list[Any]) -> None:
    extracted_by: dict[str, int] = {}
    for j, step in enumerate(steps):
        extract = step.get("extract") if isinstance(step, dict) else None
        for var in extract if isinstance(extract, dict) else ():
            extracted_by.setdefault(var, j)
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
                reason = _undefined_var(var, j, defined, extracted_by)
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
                "allowed: variables only in scenario steps, after the step that extracts them"
            )


def _undefined_var(var: str, j: int, defined: list[str], extracted_by: dict[str, int]) -> str:
    """Why step ``j`` cannot use ``${var}``, or "" when it can."""
    if not is_var_name(var):
        return f"is not a variable name; allowed: {VAR_NAME_ALLOWED}, e.g. ${{token}}"
    if var in defined:
        return ""
    later = extracted_by.get(var)
    why = ""
    if later == j:
        why = " (this step extracts it, so only later steps can use it)"
    elif later is not None:
        why = f" (steps[{later}] extracts it, but runs later)"
    available = ", ".join(defined) or "none yet"
    return (
        f"is not extracted by an earlier step{why}; "
        f"allowed: variables extracted by earlier steps ({available})"
    )


def _step_name(step: dict[Any, Any]) -> str | None:
    name, method, path = step.get("name"), step.get("method") or "GET", step.get("path")
    if isinstance(name, str):
        return name
    if isinstance(method, str) and isinstance(path, str):
        return f"{method.strip().upper()} {path}"
    return None
