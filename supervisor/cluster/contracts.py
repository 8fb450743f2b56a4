"""What the node runtime and its plugins promise each other.

A discovery plugin returns a ``Discovery``, a consensus plugin a ``Consensus``
(see ``supervisor/hookspecs.py``); both get the ``NodeContext``. The rest of the
supervisor talks to consensus only through this interface: it never touches
pysyncobj, the way etcd/raft's users never touch its internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from loadtest_supervisor.config.models import NodeSettings

State = Literal["standalone", "forming", "follower", "leader"]
# A voter takes part in Raft; a member follows the leader's committed state (§12.1).
Role = Literal["voter", "member"]


@dataclass(frozen=True)
class Peer:
    """A node found by discovery. ``address`` is its advertised gRPC host:port;
    ``node_id`` is None when discovery only knows the address (a static list)."""

    address: str
    node_id: str | None = None


@dataclass(frozen=True)
class NodeStatus:
    """What consensus knows, as the health endpoint reports it.

    ``members`` are the voting members' addresses, self included; ``nonvoters`` the
    non-voting members following this node (a leader's status only); ``reachable``
    those of either this node has a live link to, self included; ``workers`` how many
    load workers each runs when a plan does not say (from the handshake);
    ``leader`` is the leader's address; ``node_ids`` maps addresses to node ids
    where known (learned from the authenticated peer handshake); ``role`` is this
    node's own.
    """

    state: State
    term: int
    leader: str | None
    members: tuple[str, ...]
    has_quorum: bool
    node_ids: dict[str, str] = field(default_factory=dict)
    reachable: tuple[str, ...] = ()
    workers: dict[str, int] = field(default_factory=dict)  # address -> its load workers
    role: Role = "voter"
    nonvoters: tuple[str, ...] = ()

    @property
    def leader_id(self) -> str | None:
        if self.leader is None:
            return None
        return self.node_ids.get(self.leader, self.leader)


@dataclass
class NodeContext:
    """Everything a plugin may use: settings, identity, the loop and the hook relay."""

    settings: NodeSettings
    node_id: str
    advertise_addr: str  # host:port peers dial for gRPC/Raft
    health_url: str  # http://host:port/health/cluster, for health checks
    data_dir: str
    loop: asyncio.AbstractEventLoop
    hook: Any  # pluggy HookRelay: context.hook.loadtest_state_changed(...)
    version: str = ""
    region: str | None = None
    workers: int = 1  # load worker processes this node runs when a plan does not say
    config_path: str | None = None  # the --config file this node was started with


class Discovery(Protocol):
    """Subclass it to inherit the defaults of its optional methods (``problem``)."""

    async def start(self) -> None:
        """Begin finding peers (register, start watches); must not block the loop."""

    async def peers(self) -> list[Peer]:
        """The peers known now, self included or not, deduplicated by node id."""

    async def stop(self) -> None:
        """Stop, undoing what start did (deregister)."""

    def problem(self) -> str | None:
        """What keeps discovery from working (an unreachable backend, say), or None;
        /health/cluster shows it as ``discovery_error``. Optional: the default says None."""
        return None


class Consensus(Protocol):
    async def start(self, peers: list[Peer], on_status: Callable[[NodeStatus], None]) -> None:
        """Start taking part in elections with these initial peers. ``on_status`` is
        called on the event loop whenever the status changes."""

    def status(self) -> NodeStatus:
        """The current status; cheap and non-blocking (the health endpoint calls it)."""

    async def update_peers(self, peers: list[Peer]) -> None:
        """Discovery saw a new peer list: the leader adds and removes members through
        Raft membership changes; followers ignore it."""

    async def propose(self, command: dict[str, Any]) -> None:
        """Replicate a small command (config, run record); raises if not leader."""

    def committed(self) -> dict[str, Any]:
        """The replicated state as applied on this node."""

    def on_committed(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Have ``callback`` called on the event loop with the replicated state each time
        a command is applied on this node (a snapshot loaded counts as one)."""

    async def stop(self) -> None:
        """Leave cleanly and release the port's services and threads."""


@dataclass(frozen=True)
class FetchedPlan:
    """A plan as a config source holds it: the text, the source's own version of it
    (a GCS generation, a Consul modify index, a hash) and where it came from."""

    text: str
    version: str
    source: str


class ConfigSourceError(Exception):
    """The source cannot be read now (unreachable, missing, denied); the caller retries.
    The message says what and where, and never carries a secret."""


class ConfigSource(Protocol):
    """Where the leader reads the test plan. No method may block the event loop. Subclass
    it to inherit the default of its optional method (``sibling``)."""

    async def fetch(self) -> FetchedPlan:
        """The plan as it is now; raises ConfigSourceError."""

    async def watch(self, version: str) -> None:
        """Return once the plan may differ from ``version`` (a blocking query, a poll);
        raises ConfigSourceError. The caller then fetches."""

    async def stop(self) -> None:
        """Release what the source holds (threads, subprocesses)."""

    def sibling(self, name: str) -> ConfigSource:
        """A source of the same kind for ``name`` beside the plan (the file next to it, the
        key or object with the same prefix): where the leader reads the data file a plan
        names. ``name`` is relative and has no ``..`` (the caller checks). Its ``fetch``
        gives the file's text in a FetchedPlan. Optional: the default says the source has
        no siblings, which makes a plan that names data a config error."""
        raise ConfigSourceError(
            f"{type(self).__name__} reads no data file beside its plan; allowed: a plan "
            "without data:, or another config source"
        )
