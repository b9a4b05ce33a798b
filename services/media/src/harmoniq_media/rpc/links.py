"""Answers link and release requests over NATS (:mod:`harmoniq_common.media`)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import media as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.links import Links

__all__ = ["serve_links"]


async def serve_links(platform: Platform, links: Links) -> list[Subscription]:
    async def link(question: contract.LinkRequest) -> contract.Linked:
        return contract.Linked(attachments=await links.link(question))

    async def release(question: contract.ReleaseRequest) -> contract.Released:
        count = await links.unlink(question.kind, question.target_id)
        return contract.Released(count=count)

    subjects = platform.subjects
    return [
        await serve(
            platform.nats,
            subjects.rpc("media", contract.MEDIA_LINK),
            contract.LinkRequest,
            link,
            queue="media",
        ),
        await serve(
            platform.nats,
            subjects.rpc("media", contract.MEDIA_RELEASE),
            contract.ReleaseRequest,
            release,
            queue="media",
        ),
    ]
