"""The SSRF guard of outgoing webhooks (resolve, then check every address) and their
signatures; no service needed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from harmoniq_bots.domain.targets import TargetRefused, is_public, resolve
from harmoniq_common.signatures import sign, verify

PRIVATE_URLS = [
    "https://127.0.0.1/hook",
    "https://localhost:8443/hook",  # a name: resolved, then refused by its addresses
    "https://[::1]/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.5/hook",
    "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://0.0.0.0/hook",
    "https://100.64.0.1/hook",  # carrier-grade NAT
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_loopback_and_link_local_targets_are_refused_by_default(url: str) -> None:
    with pytest.raises(TargetRefused, match="non-public"):
        await resolve(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",  # plain http: only for development receivers
        "ftp://93.184.216.34/x",
        "https://user:pw@93.184.216.34/x",
        "https:///nohost",
        "https://93.184.216.34:99999/x",
        # Host names no resolver takes (found by Schemathesis: a 500 before)
        "https://&S\uf6d8k\u00d0\u00a4\u0115\u00d1\u013e\U000e7fbe\u023ex\U00025356q'\u0131",
        "https://" + "a" * 64 + ".example.com/x",  # a label over 63 characters
    ],
)
async def test_urls_that_are_not_plain_https_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        await resolve(url, allow_private=False)


async def test_a_public_address_is_pinned_with_its_host_kept() -> None:
    target = await resolve("https://93.184.216.34:8443/a/b?c=d", allow_private=False)
    assert target.url == "https://93.184.216.34:8443/a/b?c=d"
    assert target.host == "93.184.216.34"
    assert is_public(target.address)


async def test_loopback_is_allowed_only_with_the_setting() -> None:
    target = await resolve("http://localhost:9000/hook", allow_private=True)
    assert target.host == "localhost"
    assert target.address in {"127.0.0.1", "::1"}
    assert target.url.startswith(("http://127.0.0.1:9000/hook", "http://[::1]:9000/hook"))


def test_a_signature_verifies_only_with_its_secret_body_and_a_fresh_timestamp() -> None:
    body = b'{"type":"message.create"}'
    signature = sign("s3cret", 1_767_225_600, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify("s3cret", "1767225600", signature, body, now=1_767_225_610)
    assert not verify("other", "1767225600", signature, body, now=1_767_225_610)
    assert not verify("s3cret", "1767225600", signature, body + b" ", now=1_767_225_610)
    assert not verify("s3cret", "1767225601", signature, body, now=1_767_225_610)
    assert not verify("s3cret", "1767225600", signature, body, now=1_767_225_600 + 301)
    assert not verify("s3cret", "-1", signature, body, now=1_767_225_610)


def test_the_verification_snippet_of_the_bot_guide_accepts_our_signatures() -> None:
    """docs/bots.md shows receivers how to verify; that code must agree with the signer."""
    guide = (Path(__file__).resolve().parents[3] / "docs" / "bots.md").read_text()
    snippet = guide.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(snippet, "docs/bots.md", "exec"), scope)  # noqa: S102 - our own document
    body = b'{"id":"1","type":"member.joined"}'
    now = int(time.time())
    assert scope["verify"]("k3y", str(now), sign("k3y", now, body), body)
    assert not scope["verify"]("k3y", str(now), sign("other", now, body), body)
    assert not scope["verify"]("k3y", str(now - 3600), sign("k3y", now - 3600, body), body)
