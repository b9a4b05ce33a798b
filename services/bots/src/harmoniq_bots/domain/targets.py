"""Where an outgoing webhook may send: never to private, loopback, link-local (or other
non-public) addresses unless ``HARMONIQ_OUTGOING_ALLOW_PRIVATE_TARGETS`` allows it (SSRF).

The check is resolve-then-check-then-connect: the host is resolved once, *every* address it
resolves to must be public, and the request then goes to that checked address (the URL's host
still in ``Host`` and, for https, in SNI and the certificate check), so a DNS answer that
changes between the check and the connection (rebinding) cannot point it elsewhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Target", "TargetRefused", "is_public", "parse_url", "resolve"]


class TargetRefused(Exception):
    """This URL may not be requested (its reason is safe to show to the endpoint's owner)."""


@dataclass(frozen=True)
class Target:
    url: str  # the URL with the checked address in place of the host
    host: str  # the URL's host, for Host and SNI
    address: str


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse_url(url: str, *, allow_private: bool) -> tuple[str, str, int]:
    """Scheme, host and port of an endpoint URL, or :class:`TargetRefused`. https only,
    unless private targets are allowed (a development receiver on loopback)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("not a valid URL") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused("the URL must be https")
    if not parts.hostname or parts.username or parts.password:
        raise TargetRefused("the URL needs a host and no credentials")
    try:
        parts.hostname.encode("idna")  # what the resolver will do with it
    except UnicodeError as exc:
        raise TargetRefused("not a valid host name") from exc
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default


async def resolve(url: str, *, allow_private: bool) -> Target:
    scheme, host, port = parse_url(url, allow_private=allow_private)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve {host}") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise TargetRefused(f"cannot resolve {host}")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetRefused(f"{host} resolves to a non-public address ({refused[0]})")
    address = addresses[0]
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    parts = urlsplit(url)
    pinned = parts._replace(scheme=scheme, netloc=netloc).geturl()
    return Target(url=pinned, host=host, address=address)
