from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "address", "version", "workers")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    version: str
    workers: int
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., version: _Optional[str] = ..., workers: _Optional[int] = ...) -> None: ...

class HelloRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: NodeInfo
    def __init__(self, node: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

class HelloReply(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: NodeInfo
    def __init__(self, node: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

class FollowRequest(_message.Message):
    __slots__ = ("node", "probe", "hold")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    node: NodeInfo
    probe: bool
    hold: bool
    def __init__(self, node: _Optional[_Union[NodeInfo, _Mapping]] = ..., probe: _Optional[bool] = ..., hold: _Optional[bool] = ...) -> None: ...

class FollowUpdate(_message.Message):
    __slots__ = ("leading", "leader_address", "leader_node_id", "term", "voters", "parts_json")
    LEADING_FIELD_NUMBER: _ClassVar[int]
    LEADER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LEADER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    VOTERS_FIELD_NUMBER: _ClassVar[int]
    PARTS_JSON_FIELD_NUMBER: _ClassVar[int]
    leading: bool
    leader_address: str
    leader_node_id: str
    term: int
    voters: _containers.RepeatedScalarFieldContainer[str]
    parts_json: str
    def __init__(self, leading: _Optional[bool] = ..., leader_address: _Optional[str] = ..., leader_node_id: _Optional[str] = ..., term: _Optional[int] = ..., voters: _Optional[_Iterable[str]] = ..., parts_json: _Optional[str] = ...) -> None: ...

class RaftFrame(_message.Message):
    __slots__ = ("sender_address", "sender_node_id", "message")
    SENDER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SENDER_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sender_address: str
    sender_node_id: str
    message: bytes
    def __init__(self, sender_address: _Optional[str] = ..., sender_node_id: _Optional[str] = ..., message: _Optional[bytes] = ...) -> None: ...

class StreamAck(_message.Message):
    __slots__ = ("frames",)
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    frames: int
    def __init__(self, frames: _Optional[int] = ...) -> None: ...

class PreparedRequest(_message.Message):
    __slots__ = ("plan_sha256", "wait_ms")
    PLAN_SHA256_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    plan_sha256: str
    wait_ms: int
    def __init__(self, plan_sha256: _Optional[str] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class PreparedReply(_message.Message):
    __slots__ = ("ready",)
    READY_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    def __init__(self, ready: _Optional[bool] = ...) -> None: ...

class ClockRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClockReply(_message.Message):
    __slots__ = ("wall_ns",)
    WALL_NS_FIELD_NUMBER: _ClassVar[int]
    wall_ns: int
    def __init__(self, wall_ns: _Optional[int] = ...) -> None: ...

class StatsSnapshot(_message.Message):
    __slots__ = ("requests", "status", "errors", "latency", "latency_since_previous")
    class StatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    class ErrorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    LATENCY_SINCE_PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    requests: int
    status: _containers.ScalarMap[int, int]
    errors: _containers.ScalarMap[str, int]
    latency: bytes
    latency_since_previous: bool
    def __init__(self, requests: _Optional[int] = ..., status: _Optional[_Mapping[int, int]] = ..., errors: _Optional[_Mapping[str, int]] = ..., latency: _Optional[bytes] = ..., latency_since_previous: _Optional[bool] = ...) -> None: ...

class NodeSnapshot(_message.Message):
    __slots__ = ("node_id", "run_id", "term", "seq", "part_id", "total", "steps", "dropped_iterations", "worker_restarts", "joined_at", "duration_s", "final", "interrupted", "share", "dropped_saturated", "generator", "latency_ms", "seconds", "seconds_closed")
    class StepsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StatsSnapshot
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StatsSnapshot, _Mapping]] = ...) -> None: ...
    class LatencyMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PART_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    WORKER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SATURATED_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_CLOSED_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    run_id: str
    term: int
    seq: int
    part_id: str
    total: StatsSnapshot
    steps: _containers.MessageMap[str, StatsSnapshot]
    dropped_iterations: int
    worker_restarts: int
    joined_at: float
    duration_s: float
    final: bool
    interrupted: bool
    share: float
    dropped_saturated: int
    generator: GeneratorLoad
    latency_ms: _containers.ScalarMap[str, float]
    seconds: _containers.RepeatedCompositeFieldContainer[RunSecond]
    seconds_closed: int
    def __init__(self, node_id: _Optional[str] = ..., run_id: _Optional[str] = ..., term: _Optional[int] = ..., seq: _Optional[int] = ..., part_id: _Optional[str] = ..., total: _Optional[_Union[StatsSnapshot, _Mapping]] = ..., steps: _Optional[_Mapping[str, StatsSnapshot]] = ..., dropped_iterations: _Optional[int] = ..., worker_restarts: _Optional[int] = ..., joined_at: _Optional[float] = ..., duration_s: _Optional[float] = ..., final: _Optional[bool] = ..., interrupted: _Optional[bool] = ..., share: _Optional[float] = ..., dropped_saturated: _Optional[int] = ..., generator: _Optional[_Union[GeneratorLoad, _Mapping]] = ..., latency_ms: _Optional[_Mapping[str, float]] = ..., seconds: _Optional[_Iterable[_Union[RunSecond, _Mapping]]] = ..., seconds_closed: _Optional[int] = ...) -> None: ...

class RunSecond(_message.Message):
    __slots__ = ("t", "stats", "in_flight", "covered_s")
    T_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    COVERED_S_FIELD_NUMBER: _ClassVar[int]
    t: int
    stats: StatsSnapshot
    in_flight: int
    covered_s: float
    def __init__(self, t: _Optional[int] = ..., stats: _Optional[_Union[StatsSnapshot, _Mapping]] = ..., in_flight: _Optional[int] = ..., covered_s: _Optional[float] = ...) -> None: ...

class GeneratorLoad(_message.Message):
    __slots__ = ("cpu", "cpu_wait", "loop_lag_ms", "saturated", "saturated_s", "first_saturated_s", "peak_cpu", "peak_cpu_wait", "peak_loop_lag_ms", "parts_saturated")
    CPU_FIELD_NUMBER: _ClassVar[int]
    CPU_WAIT_FIELD_NUMBER: _ClassVar[int]
    LOOP_LAG_MS_FIELD_NUMBER: _ClassVar[int]
    SATURATED_FIELD_NUMBER: _ClassVar[int]
    SATURATED_S_FIELD_NUMBER: _ClassVar[int]
    FIRST_SATURATED_S_FIELD_NUMBER: _ClassVar[int]
    PEAK_CPU_FIELD_NUMBER: _ClassVar[int]
    PEAK_CPU_WAIT_FIELD_NUMBER: _ClassVar[int]
    PEAK_LOOP_LAG_MS_FIELD_NUMBER: _ClassVar[int]
    PARTS_SATURATED_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    cpu_wait: float
    loop_lag_ms: float
    saturated: bool
    saturated_s: float
    first_saturated_s: float
    peak_cpu: float
    peak_cpu_wait: float
    peak_loop_lag_ms: float
    parts_saturated: int
    def __init__(self, cpu: _Optional[float] = ..., cpu_wait: _Optional[float] = ..., loop_lag_ms: _Optional[float] = ..., saturated: _Optional[bool] = ..., saturated_s: _Optional[float] = ..., first_saturated_s: _Optional[float] = ..., peak_cpu: _Optional[float] = ..., peak_cpu_wait: _Optional[float] = ..., peak_loop_lag_ms: _Optional[float] = ..., parts_saturated: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("accepted", "term", "leader_id", "reason")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    term: int
    leader_id: str
    reason: str
    def __init__(self, accepted: _Optional[bool] = ..., term: _Optional[int] = ..., leader_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SubmitConfigRequest(_message.Message):
    __slots__ = ("yaml", "source")
    YAML_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    source: str
    def __init__(self, yaml: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class SubmitConfigReply(_message.Message):
    __slots__ = ("accepted", "sha256", "term", "leader_id", "error", "retryable")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    sha256: str
    term: int
    leader_id: str
    error: str
    retryable: bool
    def __init__(self, accepted: _Optional[bool] = ..., sha256: _Optional[str] = ..., term: _Optional[int] = ..., leader_id: _Optional[str] = ..., error: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class StopRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class StopRunReply(_message.Message):
    __slots__ = ("accepted", "run_id", "term", "leader_id", "error", "retryable")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    run_id: str
    term: int
    leader_id: str
    error: str
    retryable: bool
    def __init__(self, accepted: _Optional[bool] = ..., run_id: _Optional[str] = ..., term: _Optional[int] = ..., leader_id: _Optional[str] = ..., error: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class ResultsRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ResultsReply(_message.Message):
    __slots__ = ("available", "json", "leader_id")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    LEADER_ID_FIELD_NUMBER: _ClassVar[int]
    available: bool
    json: str
    leader_id: str
    def __init__(self, available: _Optional[bool] = ..., json: _Optional[str] = ..., leader_id: _Optional[str] = ...) -> None: ...

class OverviewRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OverviewReply(_message.Message):
    __slots__ = ("available", "json")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    available: bool
    json: str
    def __init__(self, available: _Optional[bool] = ..., json: _Optional[str] = ...) -> None: ...
