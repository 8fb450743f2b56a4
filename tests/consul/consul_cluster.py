"""Real ``loadtest-supervisor`` nodes that find each other through a real Consul agent.

``consul_cluster(harness_dir, agent)`` is a ClusterHarness (tests/cluster/harness.py)
whose nodes use DISCOVERY_MODE=consul and no CLUSTER_NODES; ``dns(agent)``
answers Consul DNS questions the way any client on the network would.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from pathlib import Path

import consul as consul_api
import dns.resolver

from tests.cluster.harness import ClusterHarness
from tests.services import ConsulAgent
from tests.support import LOOPBACK

SECRET = "consul-cluster-secret"


def consul_env(agent: ConsulAgent, service: str, **env: str) -> dict[str, str]:
    """A node's environment for Consul discovery through ``agent`` as ``service``."""
    return {
        "CLUSTER_SECRET": SECRET,
        "DISCOVERY_MODE": "consul",
        "CLUSTER_NODES": "",
        "CONSUL_ADDR": agent.url,
        "CONSUL_SERVICE_NAME": service,
        # Fast checks, so a dead node goes critical within a second or two.
        "CONSUL_CHECK_INTERVAL": "1s",
        "CONSUL_CHECK_TIMEOUT": "1s",
        "CONSUL_ANTI_ENTROPY_INTERVAL": "2s",
        "CONSUL_BOOTSTRAP_EXPECT": "3",
        **env,
    }


def consul_cluster(workdir: Path, agent: ConsulAgent, **env: str) -> ClusterHarness:
    """A harness for nodes registering as a fresh service name (``harness.service``)."""
    service = f"lt-{uuid.uuid4().hex[:8]}"
    workdir.mkdir(parents=True, exist_ok=True)
    harness = ClusterHarness(workdir, env=consul_env(agent, service, **env))
    harness.service = service  # type: ignore[attr-defined]
    return harness


def dns_addresses(agent: ConsulAgent, name: str) -> set[str]:
    """A records for ``name`` from the agent's DNS interface; empty when it has none."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [LOOPBACK]
    resolver.port = agent.dns_port
    resolver.lifetime = 2.0
    try:
        answer = resolver.resolve(name, "A", tcp=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return set()
    return {record.address for record in answer}


def service_dns(agent: ConsulAgent, service: str, tag: str | None = None) -> set[str]:
    prefix = f"{tag}." if tag else ""
    return dns_addresses(agent, f"{prefix}{service}.service.consul")


_STATE_CHANGED = re.compile(r"event=state_changed old=\S+ new=(\S+)")
_REGISTERED = re.compile(r"event=consul_registered .* tag=(\S+)")


def hook_and_consul_transitions(log_text: str) -> tuple[list[str], list[str]]:
    """(states told on the hook bus, tags the agent accepted), in log order."""
    told = ["forming"] + _STATE_CHANGED.findall(log_text)
    registered = _REGISTERED.findall(log_text)
    return _changes(told), _changes(registered)


def _changes(sequence: list[str]) -> list[str]:
    """``sequence`` without repeats in a row (anti-entropy re-asserts the same tag)."""
    return [item for i, item in enumerate(sequence) if i == 0 or sequence[i - 1] != item]


def is_subsequence(seen: list[str], driven: list[str]) -> bool:
    remaining = iter(driven)
    return all(any(tag == d for d in remaining) for tag in seen)


class CatalogWatch:
    """Polls the catalog every 10 ms in a thread; keeps each node's tag changes in order."""

    def __init__(self, agent: ConsulAgent, service: str) -> None:
        # A client of its own: requests sessions are not shared between threads.
        self._client = consul_api.Consul(host=LOOPBACK, port=agent.http_port)
        self._service = service
        self.seen: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CatalogWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                _, entries = self._client.catalog.service(self._service)
            except Exception:  # the agent may be restarting; keep watching
                entries = []
            for entry in entries:
                tags = entry["ServiceTags"]
                history = self.seen.setdefault(entry["ServiceID"], [])
                if tags and (not history or history[-1] != tags[0]):
                    history.append(tags[0])
            time.sleep(0.01)
