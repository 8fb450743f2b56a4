from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
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

class ClockRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClockReply(_message.Message):
    __slots__ = ("wall_ns",)
    WALL_NS_FIELD_NUMBER: _ClassVar[int]
    wall_ns: int
    def __init__(self, wall_ns: _Optional[int] = ...) -> None: ...

class NodeSnapshot(_message.Message):
    __slots__ = ("node_id", "run_id", "term", "snapshot")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    run_id: str
    term: int
    snapshot: bytes
    def __init__(self, node_id: _Optional[str] = ..., run_id: _Optional[str] = ..., term: _Optional[int] = ..., snapshot: _Optional[bytes] = ...) -> None: ...

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
