"""A node's registration as the Consul catalog shows it: read once, or watched in a thread."""

from __future__ import annotations

import threading
import time

import consul as consul_api

from tests.services import ConsulAgent


def catalog_tags(agent: ConsulAgent, service: str, node_id: str) -> list[str] | None:
    return _tags_in(agent.client, service, node_id)


def _tags_in(client: consul_api.Consul, service: str, node_id: str) -> list[str] | None:
    _, entries = client.catalog.service(service)
    for entry in entries:
        if entry["ServiceID"] == node_id:
            return entry["ServiceTags"]
    return None


class CatalogRecorder:
    """Polls the catalog every 5 ms in a thread and keeps each change of the node's tags."""

    def __init__(self, agent: ConsulAgent, service: str, node_id: str) -> None:
        # A client of its own: requests sessions are not shared between threads.
        client = consul_api.Consul(host=agent.http_addr.split(":")[0], port=agent.http_port)
        self._poll = lambda: _tags_in(client, service, node_id)
        self._seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CatalogRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sequence(self) -> list[str]:
        return list(self._seen)

    def _run(self) -> None:
        while not self._stop.is_set():
            tags = self._poll()
            tag = tags[0] if tags else None
            if tag is not None and (not self._seen or self._seen[-1] != tag):
                self._seen.append(tag)
            time.sleep(0.005)


class PassingWatch:
    """Polls ``?passing`` in a thread; counts the polls that did not list the node."""

    def __init__(self, agent: ConsulAgent, service: str, node_id: str) -> None:
        client = consul_api.Consul(host=agent.http_addr.split(":")[0], port=agent.http_port)
        self._listed = lambda: any(
            e["Service"]["ID"] == node_id for e in client.health.service(service, passing=True)[1]
        )
        self.polls = 0
        self.absent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PassingWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.polls += 1
            if not self._listed():
                self.absent += 1
            time.sleep(0.005)
