"""fake-gcs-server: the GCS JSON and upload/download APIs, in memory, on loopback."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from tests.services.binaries import binary
from tests.support import LOOPBACK, ManagedProcess, free_port


class FakeGcs:
    """One fake-gcs-server over plain HTTP with an in-memory backend."""

    def __init__(self, workdir: Path, *, project: str = "test") -> None:
        self.workdir = workdir
        self.project = project
        self.port = free_port()
        self._process = ManagedProcess(
            "fake-gcs-server",
            [
                binary("fake-gcs-server"),
                "-scheme",
                "http",
                "-host",
                LOOPBACK,
                "-port",
                str(self.port),
                "-backend",
                "memory",
                # Download links the server hands out (mediaLink) are built from
                # these; left at their defaults they name storage.googleapis.com.
                "-external-url",
                self.url,
                "-public-host",
                f"{LOOPBACK}:{self.port}",
                "-log-level",
                "warn",
            ],
            log_path=workdir / "fake-gcs-server.log",
            cwd=workdir,
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def emulator_host(self) -> str:
        """The value for STORAGE_EMULATOR_HOST."""
        return self.url

    def env(self) -> dict[str, str]:
        """Variables that send any google-cloud-storage client to this emulator."""
        return {"STORAGE_EMULATOR_HOST": self.emulator_host}

    def client(self) -> storage.Client:
        """A google-cloud-storage client bound to the emulator.

        The endpoint is given explicitly rather than through the environment,
        so the client is right whether or not STORAGE_EMULATOR_HOST is set,
        and anonymous credentials keep it from looking for real ones.
        """
        return storage.Client(
            project=self.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.url},
        )

    def _buckets_listed(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=2) as resp:
            return resp.status == 200

    def start(self, timeout: float = 30.0) -> FakeGcs:
        self._process.start()
        self._process.wait_ready(self._buckets_listed, timeout=timeout, what="fake-gcs-server")
        return self

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> FakeGcs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
