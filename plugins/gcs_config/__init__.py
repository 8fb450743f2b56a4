"""The ``gcs`` config source: a plan object in Google Cloud Storage.

``CLUSTER_CONFIG_URI=gs://bucket/object``, read with google-cloud-storage and
Application Default Credentials (``STORAGE_EMULATOR_HOST`` sends it to an emulator,
with anonymous credentials). The object's generation is polled every
``CLUSTER_CONFIG_POLL``; the object is downloaded again only when it changed.
"""

from __future__ import annotations

import asyncio
import posixpath
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator

from loadtest_supervisor.cluster.contracts import (
    ConfigSource,
    ConfigSourceError,
    FetchedPlan,
    NodeContext,
)
from loadtest_supervisor.config.data_feed import MAX_COMMITTED_DATA_BYTES
from loadtest_supervisor.config.plugin_settings import PluginSettings
from loadtest_supervisor.config.values import Duration
from loadtest_supervisor.hookspecs import hookimpl

SECTION = "gcs"
# Each GCS call's own limit: a hung connection must not hold the watch forever.
REQUEST_TIMEOUT_S = 10.0


class GcsConfig(BaseModel):
    """``cluster.gcs:``; ``uri`` is needed only when the gcs source is chosen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uri: str | None = None
    poll: Duration = 10.0

    @field_validator("uri", mode="before")
    @classmethod
    def _gs_uri(cls, value: Any) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip()) if isinstance(value, str) else None
        if parts is None or parts.scheme != "gs" or not parts.netloc or parts.path in ("", "/"):
            raise ValueError("must be gs://bucket/object")
        return value.strip()


DECLARED = PluginSettings(
    section=SECTION,
    model=GcsConfig,
    env={"CLUSTER_CONFIG_URI": "uri", "CLUSTER_CONFIG_POLL": "poll"},
)


class GcsSource(ConfigSource):
    """One object; ``version`` is its generation."""

    def __init__(self, uri: str, poll_s: float, max_bytes: int) -> None:
        """``max_bytes``: a larger object is refused from its metadata, not downloaded."""
        parts = urlsplit(uri)
        self._max_bytes = max_bytes
        self._bucket, self._object = parts.netloc, parts.path.lstrip("/")
        self._uri = uri
        self._poll_s = poll_s
        self._client: Any = None

    async def fetch(self) -> FetchedPlan:
        return await asyncio.to_thread(self._download)

    async def watch(self, version: str) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            if await asyncio.to_thread(self._generation) != version:
                return

    async def stop(self) -> None:
        self._client = None

    def sibling(self, name: str) -> GcsSource:
        folder = posixpath.dirname(self._object)
        uri = f"gs://{self._bucket}/{posixpath.join(folder, name)}"
        return GcsSource(uri, self._poll_s, self._max_bytes)

    def _blob(self) -> Any:
        # Imported here: google-cloud-storage is heavy, and only a leader reads a plan.
        from google.cloud import storage

        try:
            if self._client is None:
                self._client = storage.Client()
            bucket = self._client.bucket(self._bucket)
            blob = bucket.get_blob(self._object, timeout=REQUEST_TIMEOUT_S)
            # GCS answers 404 for both; which one is missing is what a person fixes.
            missing = "object" if blob is not None or bucket.exists() else "bucket"
        except Exception as exc:  # auth, transport and API errors come in many types
            raise ConfigSourceError(f"gcs {self._uri}: {_reason(exc)}") from None
        if blob is None:
            raise ConfigSourceError(f"gcs {self._uri}: no such {missing}")
        return blob

    def _generation(self) -> str:
        return str(self._blob().generation)

    def _download(self) -> FetchedPlan:
        blob = self._blob()
        if blob.size is not None and blob.size > self._max_bytes:
            raise ConfigSourceError(
                f"gcs {self._uri}: the object is {blob.size} bytes, more than a plan or its "
                f"data may be ({self._max_bytes}: CLUSTER_MAX_PLAN_BYTES, or 1 MiB for data)"
            )
        try:
            # The generation read with the metadata: a newer upload in between fails
            # the download rather than pairing old metadata with new text.
            data = blob.download_as_bytes(
                if_generation_match=blob.generation, timeout=REQUEST_TIMEOUT_S
            )
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigSourceError(f"gcs {self._uri}: not UTF-8 text") from None
        except Exception as exc:
            raise ConfigSourceError(f"gcs {self._uri}: {_reason(exc)}") from None
        return FetchedPlan(text=text, version=str(blob.generation), source=f"gcs {self._uri}")


def _reason(exc: Exception) -> str:
    # API errors carry a long JSON body; its first line says what happened.
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class GcsConfigPlugin:
    @hookimpl
    def loadtest_declare_settings(self) -> PluginSettings:
        return DECLARED

    @hookimpl
    def loadtest_make_config_source(self, context: NodeContext) -> GcsSource:
        config = context.settings.plugin(SECTION, GcsConfig)
        if config.uri is None:
            raise ConfigSourceError(
                "CLUSTER_CONFIG_SOURCE=gcs needs CLUSTER_CONFIG_URI (cluster.gcs.uri), "
                "e.g. gs://bucket/plan.yaml"
            )
        # The keeper bounds plans and data precisely; this spares downloading a huge object.
        bound = max(context.settings.max_plan_bytes, MAX_COMMITTED_DATA_BYTES)
        return GcsSource(config.uri, config.poll, bound)
