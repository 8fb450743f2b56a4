"""The validated configuration: the test plan and this node's cluster settings.

Rules that tie fields together are field validators on the later field that
read ``info.data``: pydantic leaves a field that failed its own validation out
of ``info.data``, so such a rule is checked whenever its inputs are valid, even
when other fields of the same section are not, and every problem is reported in
one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from loadtest_supervisor.config.data_feed import MAX_COMMITTED_DATA_BYTES, DataTable
from loadtest_supervisor.config.durations import format_duration
from loadtest_supervisor.config.errors import MASK, is_secret_name, mask_url
from loadtest_supervisor.config.load_models import LOAD_MODELS, MODEL_KEYS
from loadtest_supervisor.config.values import (
    Bool,
    Conflict,
    DataSplit,
    Duration,
    Headers,
    HttpUrl,
    Int1,
    JsonPathKey,
    JsonValue,
    ListenAddr,
    LoadModel,
    Method,
    Missing,
    OddInt1,
    OptBody,
    OptCron,
    OptDuration,
    OptFile,
    OptHeaderName,
    OptInt1,
    OptJsonPath,
    OptNonNegative,
    OptPeerAddr,
    OptPositive,
    OptRegex,
    OptResolve,
    OptSecret,
    OptStatus,
    OptText,
    Pause,
    PeerList,
    Query,
    RunStart,
    StepPath,
    Text,
    ThresholdList,
    VarName,
    non_empty_list,
    optional_mapping,
)

PluginModel = TypeVar("PluginModel", bound=BaseModel)


MAX_PLAN_BYTES = 1 << 20
# A Raft frame's envelope around a plan: its command's other fields, msgpack, protobuf.
FRAME_OVERHEAD_BYTES = 64 << 10


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def __repr_args__(self) -> Any:
        # Settings get logged; header values and URL passwords must not be.
        for name, value in super().__repr_args__():
            if isinstance(value, dict):
                value = {k: MASK if is_secret_name(k) else v for k, v in value.items()}
            elif isinstance(value, str):
                value = mask_url(value)
            yield name, value


class TLSSettings(_Model):
    verify: Bool = True
    ca: OptFile = None
    client_cert: OptFile = None
    client_key: OptFile = Field(None, validate_default=True)

    @field_validator("client_key")
    @classmethod
    def _cert_and_key_together(cls, key: str | None, info: ValidationInfo) -> str | None:
        if "client_cert" in info.data and (info.data["client_cert"] is None) != (key is None):
            raise Conflict("client_cert and client_key must be set together (both or neither)")
        return key


class TargetSettings(_Model):
    url: HttpUrl
    resolve: OptResolve = None
    headers: Headers = {}
    connect_timeout: Duration = 5.0
    request_timeout: Duration = 30.0
    keep_alive: Bool = True
    tls: TLSSettings = TLSSettings()


class LoadSettings(_Model):
    model: LoadModel = "Concurrent"
    concurrency: Int1 = 10
    duration: Duration = 7200.0
    workers: OptInt1 = None
    target_rps: OptPositive = Field(None, validate_default=True)
    min_rps: OptNonNegative = Field(None, validate_default=True)
    max_rps: OptPositive = Field(None, validate_default=True)
    ramp_duration: OptDuration = Field(None, validate_default=True)
    daily_min_rps: OptNonNegative = Field(None, validate_default=True)
    daily_mid_rps: OptNonNegative = Field(None, validate_default=True)
    daily_max_rps: OptPositive = Field(None, validate_default=True)
    daily_cycle_duration: OptDuration = Field(None, validate_default=True)

    @field_validator(*MODEL_KEYS)
    @classmethod
    def _required_by_model(cls, value: float | None, info: ValidationInfo) -> float | None:
        model = LOAD_MODELS.get(info.data.get("model", ""))
        if model is not None and value is None and info.field_name in model.required:
            raise Missing(f"required when load.model is {model.name}")
        return value

    @field_validator("max_rps")
    @classmethod
    def _ramp_goes_up(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min_rps")
        if info.data.get("model") == "RampRps" and None not in (low, value) and value <= low:
            raise ValueError(f"must be greater than load.min_rps ({low:g})")
        return value

    @field_validator("ramp_duration")
    @classmethod
    def _ramp_fits(cls, value: float | None, info: ValidationInfo) -> float | None:
        duration = info.data.get("duration")
        if info.data.get("model") == "RampRps" and None not in (duration, value):
            if 2 * value > duration:
                raise ValueError(
                    f"2 x ramp_duration must be <= load.duration ({format_duration(duration)}): "
                    "the test ramps up, holds, then ramps down within it"
                )
        return value

    @field_validator("daily_mid_rps", "daily_max_rps")
    @classmethod
    def _daily_in_order(cls, value: float | None, info: ValidationInfo) -> float | None:
        # Fields are validated in order, so the previous rate is already in info.data.
        lower_name = {"daily_mid_rps": "daily_min_rps", "daily_max_rps": "daily_mid_rps"}[
            info.field_name or ""
        ]
        lower = info.data.get(lower_name)
        if info.data.get("model") == "DailyTraffic" and None not in (lower, value):
            if value < lower:
                raise ValueError(f"must be >= load.{lower_name} ({lower:g})")
        return value


class _OneBody(_Model):
    """A request with ``body`` and ``json`` fields: at most one of them is set."""

    @field_validator("json_body", check_fields=False)
    @classmethod
    def _one_body(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("body") is not None:
            raise Conflict("body and json are mutually exclusive; set only one")
        return value


class RequestSettings(_OneBody):
    method: Method = "GET"
    body: OptBody = None
    json_body: Annotated[JsonValue, Field(alias="json", validate_default=True)] = None


class Assertions(_Model):
    status: OptStatus = None
    body_contains: OptBody = None
    json_path: Annotated[
        dict[JsonPathKey, JsonValue] | None, optional_mapping("JSONPath to expected value")
    ] = None


class Extraction(_Model):
    json_path: OptJsonPath = None
    header: OptHeaderName = None
    regex: OptRegex = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Extraction:
        given = [v for v in (self.json_path, self.header, self.regex) if v is not None]
        if len(given) != 1:
            raise Conflict("needs exactly one of json_path, header, regex")
        return self


class Step(_OneBody):
    name: OptText = None
    method: Method = "GET"
    path: StepPath
    headers: Headers = {}
    query: Query = {}
    body: OptBody = None
    json_body: Annotated[JsonValue, Field(alias="json", validate_default=True)] = None
    assertions: Annotated[Assertions, Field(alias="assert")] = Assertions()
    extract: Annotated[
        dict[VarName, Extraction], optional_mapping("variable name to extraction")
    ] = {}
    think_time: Pause = 0.0

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("name") is None:
            method, path = data.get("method") or "GET", data.get("path")
            if isinstance(method, str) and isinstance(path, str):
                return {**data, "name": f"{method.strip().upper()} {path}"}
        return data


class Scenario(_Model):
    name: Text
    weight: Int1 = 1
    steps: Annotated[list[Step], non_empty_list("steps")]


class RunSettings(_Model):
    """When a cluster run of this plan starts (supervisor/cluster/run_triggers.py)."""

    start: RunStart = None
    schedule: OptCron = None


class DataSettings(_Model):
    """A CSV file whose rows feed ``${column}`` variables to the steps, a row per pass.

    ``split``: ``per-node`` gives each node, and each worker of a node, rows of its own;
    ``shared`` gives every worker all the rows. The loader attaches the parsed table
    (``table``), so that the plan carries its data wherever it goes, workers included.
    """

    file: Text
    split: DataSplit = Field(None, validate_default=True)  # type: ignore[assignment]

    @field_validator("split", mode="before")
    @classmethod
    def _split_required(cls, split: Any) -> Any:
        if split is None:
            raise Missing(
                "required; allowed: per-node (each node and worker rows of its own) or "
                "shared (every worker all the rows)"
            )
        return split

    _table: DataTable | None = PrivateAttr(default=None)

    def with_table(self, table: DataTable) -> DataSettings:
        copy = self.model_copy()
        copy._table = table
        return copy

    @property
    def table(self) -> DataTable:
        assert self._table is not None, "a validated plan's data always has its table"
        return self._table


class TestPlan(_Model):
    """What to test: the file describes the test, the environment fills the gaps."""

    __test__ = False  # not a pytest test class despite the name

    target: TargetSettings
    load: LoadSettings = LoadSettings()
    request: RequestSettings = RequestSettings()
    scenarios: Annotated[list[Scenario] | None, non_empty_list("scenarios", optional=True)] = None
    thresholds: ThresholdList = []
    run: RunSettings = RunSettings()
    data: DataSettings | None = None

    @field_serializer("thresholds", when_used="json")
    def _thresholds_as_text(self, thresholds: list[Any]) -> list[str]:
        return [t.text for t in thresholds]


class NodeSettings(_Model):
    """This machine's part in a cluster: the environment wins over the file here."""

    enabled: Bool = False
    bind_addr: ListenAddr = "0.0.0.0:7000"
    health_addr: ListenAddr = "0.0.0.0:8080"
    http_api: Bool = True
    node_id: Text
    region: OptText = None
    advertise_addr: OptPeerAddr = None
    discovery_mode: Text = "static"
    nodes: PeerList = []
    secret: OptSecret = None
    tls_cert: OptFile = None
    tls_key: OptFile = None
    tls_ca: OptFile = Field(None, validate_default=True)
    insecure: Bool = Field(False, validate_default=True)
    data_dir: Text = "./data/cluster"
    # How long a member may be missing from discovery before the leader removes it
    # from the voting members: long enough that a stalled or restarting node does
    # not shrink the quorum (Consul's shortest deregister window).
    member_remove_after: Duration = 60.0
    # How many nodes vote in Raft; the others follow the leader as non-voting members
    # (docs/design.md §12.1).
    voters: OddInt1 = 5
    # A voter the leader has had no link to this long is replaced by a member, if one
    # follows (autopilot, docs/design.md §12.1).
    voter_replace_after: Duration = 30.0
    # The name of an installed config source plugin; the plugin manager checks it.
    config_source: OptText = None
    # Bearer token of the HTTP API's mutating endpoints; unset, they answer 403.
    api_token: OptSecret = None
    # From committing a run to its first arrival, on the leader's clock: time for the
    # record to reach every node. Workers that start later catch up on the same curve.
    start_lead: Duration = 0.5
    # A run's share of a node unreachable this long goes to the live nodes.
    reshare_after: Duration = 3.0
    # A node cut off from the quorum this long stops its share (see docs/design.md §8).
    orphan_grace: Duration = 10.0
    # Load workers this node runs in a cluster run whose plan does not set load.workers;
    # a node's share of the load is in proportion to them (default: one per core).
    workers: OptInt1 = None
    # A clock further than this from the leader's is reported (runs stay aligned).
    max_clock_skew: Duration = 0.25
    # How often each node sends the leader its cumulative snapshot during a run; a
    # leader's death loses at most this much of its own samples.
    metrics_interval: Duration = 1.0
    # How often the leader commits every node's latest snapshot through Raft.
    checkpoint_interval: Duration = 5.0
    # Bounds on what the network may hand a node (docs/design.md §10 "Limits"). A plan is
    # a few KB: 1 MiB is room for any real one, and every node keeps it in its Raft log.
    max_plan_bytes: Int1 = MAX_PLAN_BYTES
    # An HTTP API request body (POST /runs carries a plan, so at least the plan bound).
    http_max_body_bytes: Int1 = MAX_PLAN_BYTES
    # Open HTTP API connections beyond which every request but /health/cluster gets 503.
    http_max_connections: Int1 = 256
    # One gRPC message received (a Raft frame may carry a whole plan and its data).
    grpc_max_message_bytes: Int1 = 8 * MAX_PLAN_BYTES
    # Concurrent gRPC streams on one peer connection (a peer uses a handful).
    grpc_max_streams: Int1 = 100

    # Each plugin's own section (config.plugin_settings), validated by the plugin's model.
    _plugins: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    def with_plugins(self, plugins: Mapping[str, BaseModel]) -> NodeSettings:
        copy = self.model_copy()
        copy._plugins = dict(plugins)
        return copy

    @property
    def plugin_sections(self) -> dict[str, BaseModel]:
        return dict(self._plugins)

    def plugin(self, section: str, model: type[PluginModel]) -> PluginModel:
        """One plugin's settings, typed; its defaults when the section was not loaded."""
        found = self._plugins.get(section)
        return found if isinstance(found, model) else model()

    @field_validator("tls_ca")
    @classmethod
    def _mtls_complete(cls, ca: str | None, info: ValidationInfo) -> str | None:
        # A file that failed its own check is absent from info.data; count it as given
        # so that it is not also reported as missing.
        parts = {"tls_cert": info.data.get("tls_cert", ""), "tls_key": info.data.get("tls_key", "")}
        parts["tls_ca"] = ca
        given = [k for k, v in parts.items() if v is not None]
        if given and len(given) < 3:
            missing = [k for k in parts if k not in given]
            raise Conflict(
                "mTLS needs tls_cert, tls_key and tls_ca together (CLUSTER_TLS_CERT, "
                f"CLUSTER_TLS_KEY, CLUSTER_TLS_CA); missing: {', '.join(missing)}"
            )
        return ca

    @field_validator("grpc_max_message_bytes")
    @classmethod
    def _plan_fits_a_frame(cls, size: int, info: ValidationInfo) -> int:
        plan = info.data.get("max_plan_bytes")
        needed = None if plan is None else plan + MAX_COMMITTED_DATA_BYTES + FRAME_OVERHEAD_BYTES
        if needed is not None and size < needed:
            raise Conflict(
                f"{size}: must be at least max_plan_bytes + {MAX_COMMITTED_DATA_BYTES} (its data) "
                f"+ {FRAME_OVERHEAD_BYTES} = {needed}, so that a committed plan fits one Raft "
                "frame (CLUSTER_GRPC_MAX_MESSAGE_BYTES, CLUSTER_MAX_PLAN_BYTES)"
            )
        return size

    @field_validator("insecure")
    @classmethod
    def _traffic_authenticated(cls, insecure: bool, info: ValidationInfo) -> bool:
        needed = ("enabled", "secret", "tls_cert", "tls_ca")
        if insecure or any(k not in info.data for k in needed) or not info.data["enabled"]:
            return insecure
        if info.data["secret"] is None and info.data["tls_cert"] is None:
            raise Conflict(
                "cluster traffic must be authenticated: set cluster.secret (CLUSTER_SECRET) "
                "or cluster.tls_cert/tls_key/tls_ca (CLUSTER_TLS_*), or set cluster.insecure "
                "(CLUSTER_INSECURE=true) to run without authentication"
            )
        return insecure
