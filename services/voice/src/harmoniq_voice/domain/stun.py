"""A small STUN/TURN client: Binding (RFC 5389), Allocate and Refresh (RFC 5766) with the
long-term credential mechanism, over UDP or TCP. Enough for the voice doctor to prove that a
TURN server answers, accepts our credentials and hands out a relay; not a media relay client.

Why not a library: aiortc's bundled ``aioice`` has a TURN client, but it is built to carry
media for an ICE agent (it raises on failure without the error code we need to say *why*),
and the doctor needs exactly the codes (401 vs 438 vs 486/508) to tell a wrong secret from a
full relay range.

Message layout (RFC 5389 section 6): a 20-byte header (type, length of the attributes, the
magic cookie, a 96-bit transaction id) and attributes of (type, length, value padded to 4
bytes). MESSAGE-INTEGRITY is HMAC-SHA1 keyed with MD5(username:realm:password) over the
message up to itself, with the header's length already counting it; FINGERPRINT is the
CRC-32 of the message up to itself XOR 0x5354554e, the length counting it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import os
import struct
import zlib
from dataclasses import dataclass, field

__all__ = [
    "Answer",
    "StunError",
    "TurnClient",
    "Unreachable",
    "long_term_key",
    "parse_message",
]

MAGIC_COOKIE = 0x2112A442
BINDING = 0x0001
ALLOCATE = 0x0003
REFRESH = 0x0004
# Classes, as bits of the message type (RFC 5389 section 6).
SUCCESS = 0x0100
ERROR = 0x0110

MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
REALM = 0x0014
NONCE = 0x0015
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_TRANSPORT = 0x0019
XOR_MAPPED_ADDRESS = 0x0020
SOFTWARE = 0x8022
FINGERPRINT = 0x8028
_FINGERPRINT_XOR = 0x5354554E
UDP_PROTOCOL = 17


class StunError(Exception):
    """The server answered with an error response (its code and reason)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class Unreachable(Exception):
    """No answer at all (nothing listening, a firewall, a wrong address)."""


@dataclass
class Answer:
    kind: int  # SUCCESS or ERROR
    method: int
    transaction: bytes
    attributes: dict[int, bytes] = field(default_factory=dict)

    @property
    def error(self) -> tuple[int, str] | None:
        value = self.attributes.get(ERROR_CODE)
        if self.kind != ERROR or value is None or len(value) < 4:
            return None
        code = (value[2] & 0x7) * 100 + value[3]
        return code, value[4:].decode(errors="replace")

    def address(self, kind: int) -> tuple[str, int] | None:
        value = self.attributes.get(kind)
        if value is None or len(value) < 8:
            return None
        family, port = value[1], struct.unpack("!H", value[2:4])[0]
        raw = value[4:]
        if kind != MAPPED_ADDRESS:  # XOR-*: port and address XORed with cookie (+ transaction)
            port ^= MAGIC_COOKIE >> 16
            mask = struct.pack("!I", MAGIC_COOKIE) + self.transaction
            raw = bytes(b ^ m for b, m in zip(raw, mask, strict=False))
        if family == 0x01:
            return str(ipaddress.IPv4Address(raw[:4])), port
        return str(ipaddress.IPv6Address(raw[:16])), port


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """RFC 5389 section 15.4: the HMAC key of the long-term credential mechanism (MD5 is what
    the RFC specifies; it is a key derivation here, not a password hash we store)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()  # noqa: S324


def _attribute(kind: int, value: bytes) -> bytes:
    padding = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\x00" * padding


def build_message(
    method: int,
    transaction: bytes,
    attributes: list[tuple[int, bytes]],
    *,
    key: bytes | None = None,
) -> bytes:
    """A request with ``attributes``, then MESSAGE-INTEGRITY (when ``key``) and FINGERPRINT."""
    body = b"".join(_attribute(kind, value) for kind, value in attributes)
    if key is not None:
        header = struct.pack("!HHI", method, len(body) + 24, MAGIC_COOKIE) + transaction
        digest = hmac.new(key, header + body, hashlib.sha1).digest()
        body += _attribute(MESSAGE_INTEGRITY, digest)
    header = struct.pack("!HHI", method, len(body) + 8, MAGIC_COOKIE) + transaction
    crc = (zlib.crc32(header + body) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
    body += _attribute(FINGERPRINT, struct.pack("!I", crc))
    return struct.pack("!HHI", method, len(body), MAGIC_COOKIE) + transaction + body


def parse_message(data: bytes) -> Answer | None:
    """A STUN message, or None for anything else (bytes that are not one)."""
    if len(data) < 20:
        return None
    kind, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC_COOKIE or kind & 0xC000 or len(data) < 20 + length:
        return None
    answer = Answer(kind=kind & 0x0110, method=kind & ~0x0110 & 0x3FFF, transaction=data[8:20])
    offset = 20
    while offset + 4 <= 20 + length:
        attr, size = struct.unpack("!HH", data[offset : offset + 4])
        answer.attributes.setdefault(attr, data[offset + 4 : offset + 4 + size])
        offset += 4 + size + (4 - size % 4) % 4
    return answer


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.received.put_nowait(data)


class TurnClient:
    """One transport to one TURN server; requests are retransmitted over UDP (RFC 5389
    section 7.2.1, shortened: the doctor answers in seconds, not 39.5 s)."""

    def __init__(self, host: str, port: int, transport: str, timeout: float) -> None:
        self.host, self.port, self.transport, self.timeout = host, port, transport, timeout
        self._udp: asyncio.DatagramTransport | None = None
        self._datagrams: _Datagrams | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> TurnClient:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                if self.transport == "tcp":
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                else:
                    self._udp, self._datagrams = await loop.create_datagram_endpoint(
                        _Datagrams, remote_addr=(self.host, self.port)
                    )
        except (OSError, TimeoutError) as exc:
            raise Unreachable(
                f"cannot reach {self.host}:{self.port}/{self.transport}: {exc}"
            ) from exc
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()

    async def _receive(self) -> bytes:
        if self._datagrams is not None:
            return await self._datagrams.received.get()
        assert self._reader is not None
        header = await self._reader.readexactly(20)
        length = struct.unpack("!H", header[2:4])[0]
        return header + await self._reader.readexactly(length)

    async def request(
        self, method: int, attributes: list[tuple[int, bytes]], key: bytes | None = None
    ) -> Answer:
        """Send a request and return its answer (success or error) with the same transaction."""
        transaction = os.urandom(12)
        message = build_message(method, transaction, attributes, key=key)
        deadline = asyncio.get_running_loop().time() + self.timeout
        wait = 0.25
        while True:
            self._send(message)
            try:
                async with asyncio.timeout(
                    min(wait, max(0.0, deadline - asyncio.get_running_loop().time()))
                ):
                    while True:
                        answer = parse_message(await self._receive())
                        if answer is not None and answer.transaction == transaction:
                            return answer
            except TimeoutError:
                if asyncio.get_running_loop().time() >= deadline:
                    raise Unreachable(
                        f"no answer from {self.host}:{self.port}/{self.transport}"
                        f" within {self.timeout:g} s"
                    ) from None
                wait *= 2
            except (OSError, asyncio.IncompleteReadError) as exc:  # ICMP port unreachable, reset
                raise Unreachable(
                    f"{self.host}:{self.port}/{self.transport} refused: {exc}"
                ) from exc

    def _send(self, message: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(message)
        else:
            assert self._writer is not None
            self._writer.write(message)

    async def binding(self) -> tuple[str, int] | None:
        """Our address as the server sees it (a plain STUN Binding request)."""
        answer = await self.request(BINDING, [])
        if (error := answer.error) is not None:
            raise StunError(*error)
        return answer.address(XOR_MAPPED_ADDRESS) or answer.address(MAPPED_ADDRESS)

    async def allocate(self, username: str, password: str) -> tuple[str, int]:
        """A relay allocation with long-term credentials: the first request learns the realm
        and nonce from the 401; a 438 (stale nonce) is retried once with the new nonce.
        The allocation is released again at once (Refresh with LIFETIME 0)."""
        transport = [(REQUESTED_TRANSPORT, struct.pack("!B3x", UDP_PROTOCOL))]
        auth: list[tuple[int, bytes]] = []
        key: bytes | None = None
        answer = await self.request(ALLOCATE, transport)
        for _ in range(2):
            error = answer.error
            if error is None or error[0] not in (401, 438):
                break
            realm = answer.attributes.get(REALM, b"").decode(errors="replace")
            nonce = answer.attributes.get(NONCE, b"")
            if not nonce:
                raise StunError(*error)
            key = long_term_key(username, realm, password)
            auth = [(USERNAME, username.encode()), (REALM, realm.encode()), (NONCE, nonce)]
            answer = await self.request(ALLOCATE, transport + auth, key=key)
            if answer.error is None or answer.error[0] != 438:
                break
        if (error := answer.error) is not None:
            raise StunError(*error)
        relayed = answer.address(XOR_RELAYED_ADDRESS)
        if relayed is None:
            raise StunError(500, "the allocation carried no relayed address")
        with contextlib.suppress(StunError, Unreachable):
            await self.request(REFRESH, [(LIFETIME, struct.pack("!I", 0)), *auth], key=key)
        return relayed
