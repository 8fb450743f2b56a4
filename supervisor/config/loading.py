"""Loading the configuration: the entry points that read, merge and validate it.

Precedence (DESIGN §11): the file describes the test, the environment the
machine. For the test plan, CLI > YAML (for the keys it sets) > env > defaults;
for the node settings (the ``cluster:`` section), CLI > env > YAML > defaults.
Where every value came from is kept, so ``--print-config`` can show it.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from loadtest_supervisor.config import scenario_rules
from loadtest_supervisor.config.builder import Builder, Override, Source, override_paths
from loadtest_supervisor.config.data_feed import (
    MAX_COMMITTED_DATA_BYTES,
    DataProblem,
    DataTable,
    check_size,
    parse_table,
    read_data_file,
)
from loadtest_supervisor.config.environment import NODE_ENV, clean_env, unknown_env_warnings
from loadtest_supervisor.config.errors import ConfigError, show_value
from loadtest_supervisor.config.load_models import LOAD_MODELS, MODEL_KEYS, rate_bound_warning
from loadtest_supervisor.config.models import NodeSettings, TestPlan
from loadtest_supervisor.config.plugin_settings import PluginSettings, unknown_plugin_variables
from loadtest_supervisor.config.scenario_rules import GivenVars
from loadtest_supervisor.config.schema import Path, dotted, keys_of
from loadtest_supervisor.config.values import parse_bool
from loadtest_supervisor.config.yaml_io import parse_yaml, read_file

# Reads a plan's data file by the name the plan gives it; raises DataProblem.
DataReader = Callable[[str], str]


class Settings(BaseModel):
    """Everything ``load_settings`` produced.

    ``plan`` is None only in cluster mode when this node was given no plan (no
    plan sections in the file and no TARGET_URL): it then waits for the plan the
    leader commits.
    """

    model_config = ConfigDict(frozen=True)

    plan: TestPlan | None
    node: NodeSettings
    config_path: str | None
    sources: dict[str, str] = {}  # dotted YAML path -> "from env TARGET_RPS", "from test.yaml", …
    warnings: tuple[str, ...] = ()

    def source_of(self, path: Path) -> str:
        """Where the value at ``path`` (e.g. ``("load", "duration")``) came from."""
        for end in range(len(path), 0, -1):
            described = self.sources.get(dotted(path[:end]))
            if described is not None:
                return described
        return "default"


def _derived_node_id(tree: dict[Any, Any]) -> tuple[str, str]:
    hostname = socket.gethostname() or "localhost"
    region = tree.get("region")
    if isinstance(region, str) and region.strip():
        return f"{hostname}-{region.strip()}", "derived from hostname and region"
    return hostname, "derived from hostname"


def _load_node(
    builder: Builder,
    doc: dict[Any, Any],
    env: Mapping[str, str],
    cli: list[Override],
    *,
    config_given: bool,
) -> tuple[NodeSettings | None, list[str]]:
    """The node settings and the problems found in them."""
    cluster = doc.get("cluster", {})
    problems = []
    if not isinstance(cluster, dict):
        problems.append(
            f"{builder.label}: cluster={show_value(cluster)}: must be a mapping with keys: "
            f"{', '.join(sorted(keys_of(NodeSettings)))}"
        )
        cluster = {}
    tree = {"cluster": cluster}
    builder.record_yaml(tree, (), None)
    builder.resolve_file_paths(tree, "cluster")
    for var, path in NODE_ENV.items():
        if var in env:
            builder.put(tree, path, env[var], Source("env", var, path))
    for path, flag, value in cli:
        if path[0] == "cluster":
            builder.put(tree, path, value, Source("cli", flag, path))
    if "node_id" not in cluster:
        cluster["node_id"], how = _derived_node_id(cluster)
        builder.sources[("cluster", "node_id")] = Source("derived", how, ())
    if "config_source" not in cluster and config_given:
        cluster["config_source"] = "file"
        builder.sources[("cluster", "config_source")] = Source(
            "default", "default (a --config file is given)", ()
        )
    plugins, plugin_problems = _load_plugin_sections(builder, cluster, env)
    node, node_problems = builder.validate(NodeSettings, cluster, ("cluster",))
    if node is not None:
        node = node.with_plugins(plugins)
    return node, problems + node_problems + plugin_problems


def _load_plugin_sections(
    builder: Builder, cluster: dict[Any, Any], env: Mapping[str, str]
) -> tuple[dict[str, BaseModel], list[str]]:
    """Each declared plugin section, validated with the plugin's model; env wins over YAML."""
    loaded, problems = {}, []
    for section, declared in builder.plugins.items():
        tree = {"cluster": {section: cluster.pop(section, {})}}
        for var, name in declared.env.items():
            if var in env:
                path = ("cluster", section, name)
                builder.put(tree, path, env[var], Source("env", var, path))
        prefix = ("cluster", section)
        model, found = builder.validate(declared.model, tree["cluster"][section], prefix)
        problems += found
        if model is not None:
            loaded[section] = model
    return loaded, problems


def _cluster_enabled(doc: dict[Any, Any], env: Mapping[str, str], cli: list[Override]) -> bool:
    """Whether cluster mode is on, as best it can be told before validation reports why not."""
    value: Any = False
    cluster = doc.get("cluster")
    if isinstance(cluster, dict):
        value = cluster.get("enabled", False)
    value = env.get("CLUSTER_ENABLED", value)
    for path, _, given in cli:
        if path == ("cluster", "enabled"):
            value = given
    try:
        return parse_bool(value)
    except ValueError:
        return False


def _load_plan(
    builder: Builder,
    plan_doc: dict[Any, Any],
    env: Mapping[str, str],
    cli: list[Override],
    read_data: DataReader,
) -> TestPlan | None:
    builder.record_yaml(plan_doc, (), None)
    builder.resolve_file_paths(plan_doc, "target")
    builder.plan_from_env(plan_doc, env)
    for path, flag, value in cli:
        if path[0] != "cluster":
            builder.put(plan_doc, path, value, Source("cli", flag, path))
    plan_doc.setdefault("target", {})
    plan, problems = builder.validate(TestPlan, plan_doc)
    builder.problems.extend(problems)
    given, table = _load_data(builder, plan_doc, read_data)
    scenario_rules.check_scenarios(builder, plan_doc.get("scenarios"), given)
    scenario_rules.check_no_placeholders(builder, plan_doc)
    if plan is not None:
        _warn_unused(builder, plan)
        if plan.data is not None and table is not None:
            plan = plan.model_copy(update={"data": plan.data.with_table(table)})
    return plan


def _load_data(
    builder: Builder, plan_doc: dict[Any, Any], read_data: DataReader
) -> tuple[GivenVars, DataTable | None]:
    """The plan's data table, read from the raw tree so that the steps' ``${column}``
    use can be checked even when other keys are wrong."""
    data = plan_doc.get("data")
    file = data.get("file") if isinstance(data, dict) else None
    if not isinstance(file, str) or not file.strip():
        return GivenVars(), None  # no data, or the model reports what is wrong with it
    name = file.strip()
    try:
        table = parse_table(read_data(name))
    except DataProblem as exc:
        builder.problems.append(f"{builder.label_of(('data', 'file'))}={show_value(file)}: {exc}")
        return GivenVars(name, known=False), None
    return GivenVars(name, table.columns), table


def _warn_unused(builder: Builder, plan: TestPlan) -> None:
    """Warn about what the file sets in vain; the environment may set anything for any model."""
    model = plan.load.model
    unused = set(MODEL_KEYS) - set(LOAD_MODELS[model].required)
    for key in sorted(unused):
        if builder.source_of(("load", key)).kind == "yaml" and getattr(plan.load, key) is not None:
            builder.warnings.append(
                f"{builder.label}: load.{key} is ignored because load.model is {model}"
            )
    request_in_file = any(
        builder.source_of(("request", key)).kind == "yaml" for key in ("method", "body", "json")
    )
    if plan.scenarios and request_in_file:
        builder.warnings.append(f"{builder.label}: request is ignored because scenarios are given")


def _warn_rate_bound(builder: Builder, plan: TestPlan) -> None:
    """Standalone knows its workers, so it can say now when the plan asks more of them
    than they schedule (a cluster node logs it when its share is known)."""
    load = plan.load
    workers = max(1, min(load.workers or os.cpu_count() or 1, load.concurrency))
    # Workers split the rate by their parts of the concurrency: the busiest takes most.
    busiest = math.ceil(load.concurrency / workers) / load.concurrency
    warning = rate_bound_warning(load, busiest)
    if warning:
        builder.warnings.append(warning)


def _raise_if_problems(builder: Builder) -> None:
    if builder.problems:
        raise ConfigError(list(dict.fromkeys(builder.problems)))


def load_settings(
    config_path: str | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
    plugins: Callable[[], Sequence[PluginSettings]] | None = None,
) -> Settings:
    """Read, merge and validate the configuration; raises ``ConfigError`` listing every problem.

    ``overrides`` come from CLI flags: ``{"workers": 4, "duration": 600}`` or dotted
    YAML keys (``{"load.concurrency": 50}``); a None value is ignored. ``plugins``
    gives the installed plugins' declared settings; it is called only in cluster
    mode, so that a standalone run imports no plugin.
    """
    doc: dict[Any, Any] = {}
    problems: list[str] = []
    if config_path is not None:
        doc, problems = parse_yaml(read_file(config_path), config_path)
    env = clean_env(environ)
    cli = override_paths(overrides)
    enabled = _cluster_enabled(doc, env, cli)
    declared = tuple(plugins()) if plugins is not None and enabled else ()
    builder = Builder(
        config_path,
        os.path.dirname(config_path) if config_path else None,
        declared,
        cluster_mode=enabled,
    )
    builder.problems.extend(problems)
    doc = builder.known_keys_only(doc, None, ())
    node, node_problems = _load_node(builder, doc, env, cli, config_given=config_path is not None)
    plan_doc = {k: v for k, v in doc.items() if k != "cluster"}
    plan = None
    # A cluster node given no plan is fine: it waits for the one the leader commits.
    if plan_doc or "TARGET_URL" in env or not enabled:
        base_dir = builder.base_dir or ""
        plan = _load_plan(
            builder, plan_doc, env, cli, lambda name: read_data_file(os.path.join(base_dir, name))
        )
    # The node's problems come last: the test is what a user reads first.
    builder.problems.extend(node_problems)
    _raise_if_problems(builder)
    if plan is not None and not enabled:
        _warn_rate_bound(builder, plan)
    assert node is not None  # no problems means the node settings validated
    return Settings(
        plan=plan,
        node=node,
        config_path=config_path,
        sources={dotted(path): source.describe() for path, source in builder.sources.items()},
        warnings=(
            *builder.warnings,
            *unknown_env_warnings(environ, [var for d in declared for var in d.env]),
            *unknown_plugin_variables(clean_env(environ), declared),
        ),
    )


def load_plan_text(
    text: str,
    source: str,
    environ: Mapping[str, str] | None = None,
    data: str | None = None,
) -> TestPlan:
    """Validate a plan fetched by a cluster leader (GCS, Consul KV) or committed through Raft.

    ``source`` names it in messages. A ``cluster:`` section in it is checked for
    unknown keys but otherwise ignored: node settings belong to each machine.
    Pass ``environ`` to let environment variables fill keys the text leaves out.
    ``data`` is the text of the data file the plan names (``plan_data_file``), as the
    leader read it beside the plan; it is bounded by MAX_COMMITTED_DATA_BYTES.
    """

    def given_data(name: str) -> str:
        if data is None:
            raise DataProblem(
                "no data came with this plan; allowed: in cluster mode, a file, key or object "
                "of that name beside the plan in the leader's config source"
            )
        check_size(len(data.encode("utf-8")), MAX_COMMITTED_DATA_BYTES)
        return data

    builder = Builder(source, None, cluster_mode=False)
    doc, problems = parse_yaml(text, source)
    builder.problems.extend(problems)
    doc = builder.known_keys_only(doc, None, ())
    plan_doc = {k: v for k, v in doc.items() if k != "cluster"}
    plan = _load_plan(builder, plan_doc, clean_env(environ or {}), [], given_data)
    _raise_if_problems(builder)
    assert plan is not None
    return plan


def plan_data_file(text: str, source: str) -> str | None:
    """The name of the data file a plan's text names, if it names one; read before the
    plan is validated, since a cluster leader validates the plan with its data.

    Raises ConfigError for a name that does not stay beside the plan (absolute, or
    with ``..``): sources read it next to the plan, never elsewhere.
    """
    try:
        doc, _ = parse_yaml(text, source)
    except ConfigError:
        return None  # validation reports it
    data = doc.get("data")
    file = data.get("file") if isinstance(data, dict) else None
    if not isinstance(file, str) or not file.strip():
        return None
    name = file.strip()
    if name.startswith("/") or ".." in name.split("/"):
        raise ConfigError(
            f"{source}: data.file={name!r}: in cluster mode the data file is read beside the "
            "plan; allowed: a relative name without '..', e.g. users.csv or data/users.csv"
        )
    return name
