"""A test plan compiled for the load loops: endpoints, serialized requests, checks.

Everything that can be decided once per run is decided here, so that a request
without ``${var}`` placeholders is a prebuilt byte string and the hot path does
no formatting at all.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import urlencode, urlsplit

from loadtest_supervisor import __version__
from loadtest_supervisor.config.models import Step as StepSpec
from loadtest_supervisor.config.models import TestPlan
from loadtest_supervisor.config.variables import placeholders, substitute
from loadtest_supervisor.engine.checks import Assertions, Extraction
from loadtest_supervisor.engine.http_client import Endpoint

USER_AGENT = f"loadtest-supervisor/{__version__}"


class SetupError(Exception):
    """The plan cannot be run on this machine (unreadable certificate, say)."""


def _substitute_json(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        return substitute(value, variables)
    if isinstance(value, list):
        return [_substitute_json(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _substitute_json(v, variables) for k, v in value.items()}
    return value


def _has_placeholder(value: Any) -> bool:
    return next(placeholders(value), None) is not None


@dataclass(frozen=True)
class RequestTemplate:
    """One step's request; ``static`` is set when it has no placeholders."""

    method: str
    host_header: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str | None
    json_body: Any
    keep_alive: bool
    static: bytes | None

    def render(self, variables: dict[str, str]) -> bytes:
        if self.static is not None:
            return self.static
        return self._serialize(variables)

    def _serialize(self, variables: dict[str, str]) -> bytes:
        target = substitute(self.path, variables)
        if self.query:
            query = urlencode({k: substitute(v, variables) for k, v in self.query.items()})
            target += ("&" if "?" in target else "?") + query
        headers = {
            "Host": self.host_header,
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
        }
        body = b""
        if self.json_body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(_substitute_json(self.json_body, variables)).encode()
        elif self.body is not None:
            body = substitute(self.body, variables).encode()
        # Custom headers replace the defaults whatever their case.
        for name, value in self.headers.items():
            for existing in [h for h in headers if h.lower() == name.lower()]:
                del headers[existing]
            headers[name] = substitute(value, variables)
        if body or self.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        if not self.keep_alive:
            headers["Connection"] = "close"
        head = f"{self.method} {target} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        return head.encode("latin-1") + b"\r\n" + body


@dataclass(frozen=True)
class Step:
    key: str
    request: RequestTemplate
    assertions: Assertions | None
    extractions: tuple[Extraction, ...]
    think_time: float

    @property
    def needs_body(self) -> bool:
        return bool(self.extractions) or (
            self.assertions is not None and self.assertions.needs_body
        )

    @property
    def needs_json(self) -> bool:
        json_assert = self.assertions is not None and bool(self.assertions.json_paths)
        return json_assert or any(e.kind == "json_path" for e in self.extractions)

    @property
    def needs_headers(self) -> bool:
        return any(e.kind == "header" for e in self.extractions)

    @property
    def is_head(self) -> bool:
        return self.request.method == "HEAD"


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: int
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class CompiledPlan:
    endpoint: Endpoint
    scenarios: tuple[Scenario, ...]
    cumulative_weights: tuple[int, ...]

    @property
    def needs_headers(self) -> bool:
        return any(step.needs_headers for s in self.scenarios for step in s.steps)


def _ssl_context(plan: TestPlan) -> ssl.SSLContext:
    tls = plan.target.tls
    try:
        ctx = ssl.create_default_context(cafile=tls.ca)
        if not tls.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if tls.client_cert:
            ctx.load_cert_chain(tls.client_cert, tls.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise SetupError(f"TLS setup failed: {exc}") from None
    return ctx


def build_endpoint(plan: TestPlan) -> Endpoint:
    url = urlsplit(plan.target.url)
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    host = url.hostname or ""
    if plan.target.resolve:
        override = urlsplit("//" + plan.target.resolve)
        host = override.hostname or host
        port = override.port or port
    return Endpoint(
        host=host,
        port=port,
        ssl_context=_ssl_context(plan) if https else None,
        server_hostname=url.hostname,
        connect_timeout=plan.target.connect_timeout,
        request_timeout=plan.target.request_timeout,
    )


def _compile_step(
    plan: TestPlan, base_path: str, host_header: str, scenario: str, spec: StepSpec | _DefaultStep
) -> Step:
    method = spec.method.upper()
    name = spec.name or f"{method} {spec.path}"
    template = RequestTemplate(
        method=method,
        host_header=host_header,
        path=base_path + spec.path,
        query={k: str(v) for k, v in (spec.query or {}).items()},
        headers={**plan.target.headers, **(spec.headers or {})},
        body=spec.body,
        json_body=spec.json_body,
        keep_alive=plan.target.keep_alive,
        static=None,
    )
    parts = [template.path, template.query, template.headers, template.body, template.json_body]
    if not _has_placeholder(parts):
        template = RequestTemplate(**{**template.__dict__, "static": template._serialize({})})
    return Step(
        key=f"{scenario} / {name}",
        request=template,
        assertions=Assertions.build(spec.assertions),
        extractions=tuple(Extraction.build(var, e) for var, e in (spec.extract or {}).items()),
        think_time=spec.think_time or 0.0,
    )


@dataclass(frozen=True)
class _DefaultStep:
    """The implicit one-step scenario made from ``request:`` when none is given."""

    name: str | None
    method: str
    path: str
    query: dict[str, str] | None
    headers: dict[str, str] | None
    body: str | None
    json_body: Any
    assertions: Any = None
    extract: Any = None
    think_time: float = 0.0


def compile_plan(plan: TestPlan) -> CompiledPlan:
    """Compile a validated ``TestPlan``; raises ``SetupError`` for TLS material."""
    url = urlsplit(plan.target.url)
    host_header = url.netloc.rsplit("@", 1)[-1]
    if plan.scenarios:
        base_path = url.path.rstrip("/")
        specs: list[tuple[str, int, Sequence[StepSpec | _DefaultStep]]] = [
            (s.name, s.weight, s.steps) for s in plan.scenarios
        ]
    else:
        base_path = ""
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        request = plan.request
        step = _DefaultStep(None, request.method, path, None, None, request.body, request.json_body)
        specs = [("default", 1, [step])]
    scenarios = tuple(
        Scenario(
            name,
            weight,
            tuple(_compile_step(plan, base_path, host_header, name, s) for s in steps),
        )
        for name, weight, steps in specs
    )
    return CompiledPlan(
        endpoint=build_endpoint(plan),
        scenarios=scenarios,
        cumulative_weights=tuple(accumulate(s.weight for s in scenarios)),
    )
