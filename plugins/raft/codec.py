"""The wire codec for pysyncobj's Raft messages: msgpack, which cannot execute code.

pysyncobj's own TCP transport pickles whole messages, so any peer that can reach the
port can run code on the node. Its messages are plain data: dicts with a ``type`` and
ints, bools, None, strings, bytes, and tuples/lists of log entries
``(command: bytes, idx: int, term: int)``. msgpack carries all of those; tuples travel
as an extension type so they come back as tuples. Anything else is refused.

The ``command`` bytes inside log entries are pysyncobj's own pickles of replicated
calls, unpickled by pysyncobj when it applies an entry. They come only from the
authenticated leader (frames are decoded only after peer authentication), and our
replicated calls carry one JSON string (see ``replicated_state.py``), so no object of
ours is ever pickled.
"""

from __future__ import annotations

from typing import Any

import msgpack

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_TUPLE = 1

# The message types pysyncobj 0.3.17 sends between nodes (syncobj.py), and the
# pre-vote pair PreVoteSyncObj adds (prevote.py).
MESSAGE_TYPES = frozenset(
    {
        "pre_vote",
        "pre_vote_response",
        "request_vote",
        "response_vote",
        "append_entries",
        "next_node_idx",
        "apply_command",
        "apply_command_response",
        "timeout_now",
    }
)


class CodecError(ValueError):
    """A frame that is not a well-formed Raft message; the frame is dropped."""


def _pack_tuple(value: Any) -> msgpack.ExtType:
    if isinstance(value, tuple):
        return msgpack.ExtType(_TUPLE, _packer().pack(list(value)))
    raise TypeError(f"cannot encode {type(value).__name__} in a Raft message")


def _unpack_ext(code: int, data: bytes) -> tuple[Any, ...]:
    if code != _TUPLE:
        raise CodecError(f"unknown extension type {code}")
    return tuple(_unpack(data))


def _packer() -> msgpack.Packer:
    # strict_types sends tuples through _pack_tuple instead of silently as lists.
    return msgpack.Packer(default=_pack_tuple, use_bin_type=True, strict_types=True)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_unpack_ext)


def encode(message: dict[str, Any]) -> bytes:
    """Encode one pysyncobj message (on the tick thread)."""
    return _packer().pack(message)


def decode(data: bytes) -> dict[str, Any]:
    """Decode one message from an authenticated peer; raises CodecError if malformed."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise CodecError(f"message of {len(data)} bytes is too large")
    try:
        message = _unpack(data)
    except CodecError:
        raise
    except Exception as e:  # msgpack raises several unrelated types on bad input
        raise CodecError(f"undecodable message: {type(e).__name__}") from None
    if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
        raise CodecError("not a Raft message")
    return message
