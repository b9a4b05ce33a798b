"""The wire protocol: frames ``{op, t, s, d}``, opcodes, close codes, encodings, compression.

Encodings (``?encoding=``): ``json`` (text frames, default) or ``msgpack`` (binary frames).
Compression (``?compress=zlib-stream``): every server frame goes through one zlib stream per
connection, each ending with a sync flush (``00 00 ff ff``), as Discord's gateway does.
"""

from __future__ import annotations

import enum
import zlib
from typing import Any, Literal

import msgspec

from harmoniq_common.codec import dec_hook, enc_hook
from harmoniq_common.validation import MAX_JSON_DEPTH, nested_deeper_than

__all__ = [
    "ClientFrame",
    "Close",
    "Encoding",
    "Op",
    "ProtocolError",
    "ServerFrame",
    "Wire",
]


class Op(enum.IntEnum):
    DISPATCH = 0  # server → client: an event (t = its type, s = the session sequence)
    HEARTBEAT = 1  # both ways: client sends {d: last s}; server may ask for one
    IDENTIFY = 2  # client: {token, properties}
    PRESENCE_UPDATE = 3  # client: {status}
    TYPING = 4  # client: {channel_id}
    RESUME = 6  # client: {token, session_id, seq}
    RECONNECT = 7  # server: move to another instance and resume
    SUBSCRIBE_MEMBERS = 8  # client: {server_id}: presence of that server's members, please
    INVALID_SESSION = 9  # server: {d: resumable?}; identify again
    HELLO = 10  # server: {heartbeat_interval}
    HEARTBEAT_ACK = 11  # server
    VOICE_STATE_UPDATE = 12  # client: {channel_id | null, self_mute, self_deaf}: join/move/leave
    VOICE_SIGNAL = 13  # client: {to_user_id, kind, sdp | candidate…}: WebRTC signalling


class Close(enum.IntEnum):
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    PAYLOAD_TOO_LARGE = 4010
    TOO_SLOW = 4011
    TOKEN_REVOKED = 4012
    INVALID_ENCODING = 4013
    RECONNECT = 4014  # the instance is going away: connect again and resume


class ProtocolError(Exception):
    def __init__(self, close: Close, reason: str) -> None:
        super().__init__(reason)
        self.close = close
        self.reason = reason


class ClientFrame(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    op: int
    d: Any = None
    s: int | None = None
    t: str | None = None


class ServerFrame(msgspec.Struct, kw_only=True, omit_defaults=False):
    op: int
    d: Any = None
    s: int | None = None
    t: str | None = None


Encoding = Literal["json", "msgpack"]
_json = msgspec.json.Encoder(enc_hook=enc_hook)
_msgpack = msgspec.msgpack.Encoder(enc_hook=enc_hook)
_json_frame = msgspec.json.Decoder(ClientFrame)
_msgpack_frame = msgspec.msgpack.Decoder(ClientFrame)
ZLIB_SUFFIX = b"\x00\x00\xff\xff"


def encode(frame: ServerFrame, encoding: Encoding) -> bytes:
    return _json.encode(frame) if encoding == "json" else _msgpack.encode(frame)


def encode_dispatch(
    event_type: str, seq: int, data: msgspec.Raw | Any, encoding: Encoding
) -> bytes:
    """A dispatch frame; JSON event data arrives as raw JSON and is spliced in unparsed."""
    if encoding == "json":
        return _json.encode(ServerFrame(op=Op.DISPATCH, t=event_type, s=seq, d=data))
    if isinstance(data, msgspec.Raw):
        data = msgspec.json.decode(data)
    return _msgpack.encode(ServerFrame(op=Op.DISPATCH, t=event_type, s=seq, d=data))


class Wire:
    """One connection's framing: decode what the client sends, encode (and compress) what we
    send. The compressor is per connection because zlib-stream carries state across frames."""

    def __init__(self, encoding: str, compress: str | None, max_frame_bytes: int) -> None:
        if encoding not in ("json", "msgpack"):
            raise ProtocolError(Close.INVALID_ENCODING, "encoding must be json or msgpack")
        if compress not in (None, "", "zlib-stream"):
            raise ProtocolError(Close.INVALID_ENCODING, "compress must be zlib-stream")
        self.encoding: Encoding = "json" if encoding == "json" else "msgpack"
        self._compressor = zlib.compressobj() if compress == "zlib-stream" else None
        self._max = max_frame_bytes

    @property
    def binary(self) -> bool:
        return self.encoding == "msgpack" or self._compressor is not None

    def outgoing(self, payload: bytes) -> bytes:
        if self._compressor is None:
            return payload
        return self._compressor.compress(payload) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def frame(self, frame: ServerFrame) -> bytes:
        return self.outgoing(encode(frame, self.encoding))

    def decode(self, raw: bytes | str) -> ClientFrame:
        data = raw.encode() if isinstance(raw, str) else raw
        if len(data) > self._max:
            raise ProtocolError(Close.PAYLOAD_TOO_LARGE, f"frames are at most {self._max} bytes")
        if self.encoding == "json" and nested_deeper_than(data):
            raise ProtocolError(Close.DECODE_ERROR, f"frames nest at most {MAX_JSON_DEPTH} levels")
        try:
            if self.encoding == "json":
                return _json_frame.decode(data)
            return _msgpack_frame.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolError(Close.DECODE_ERROR, f"bad frame: {exc}") from None
        except UnicodeDecodeError:
            raise ProtocolError(Close.DECODE_ERROR, "bad frame: not UTF-8") from None
        except RecursionError:  # msgpack has no cheap depth check before decoding
            raise ProtocolError(Close.DECODE_ERROR, "bad frame: nested too deeply") from None


def parse(kind: type[Any], data: Any) -> Any:
    """A frame's ``d`` as the Struct its opcode expects, or a decode error."""
    try:
        return msgspec.convert(data, kind, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise ProtocolError(Close.DECODE_ERROR, f"bad payload: {exc}") from None
