"""JSON and msgpack codecs that know :class:`~.ids.Snowflake` (strings on the wire)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from .ids import Snowflake

__all__ = ["dec_hook", "decode", "enc_hook", "encode"]

T = TypeVar("T")


def enc_hook(obj: Any) -> Any:
    if isinstance(obj, Snowflake):
        return str(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def dec_hook(kind: type, obj: Any) -> Any:
    if kind is Snowflake:
        return Snowflake.parse(obj)
    raise NotImplementedError(f"cannot decode {kind.__name__}")


_encoder = msgspec.json.Encoder(enc_hook=enc_hook)


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(raw: bytes | str, kind: type[T]) -> T:
    return msgspec.json.decode(raw, type=kind, dec_hook=dec_hook)
