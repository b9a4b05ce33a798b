"""Managing webhooks: create, list, read, edit, move, delete, regenerate the token.

Who may: a member with ``MANAGE_WEBHOOKS`` in the webhook's channel (both channels for a
move), as guilds answers through :class:`~harmoniq_common.access.AccessCache`. A webhook a
caller cannot see (not a member, a channel hidden from them) is ``404 unknown_webhook``, like
one that does not exist. The token is shown once (create, regenerate) and only its hash kept;
holding it is enough to read, edit (name, avatar) or delete the webhook (Discord's token routes).
Every change is an event on the server's subject, written with the change (the outbox).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import msgspec

from harmoniq_common.access import AccessCache, ChannelAccess
from harmoniq_common.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from harmoniq_common.events import WebhookCreated, WebhookDeleted, WebhookUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import PUBLIC_MEDIA_PATH
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..settings import BotsSettings
from ..store import webhooks as store
from ..store.rows import WebhookRow
from .avatars import link_avatar, release_avatar
from .tokens import matches, new_token

__all__ = ["Change", "Created", "Webhooks", "unknown_webhook"]

_UNSET = msgspec.UNSET


def _uploaded(avatar_url: str | None) -> bool:
    """Whether the avatar is an upload linked by media (not a URL given by the caller)."""
    return avatar_url is not None and avatar_url.startswith(PUBLIC_MEDIA_PATH)


def unknown_webhook() -> NotFound:
    return NotFound("unknown webhook", code="unknown_webhook")


@dataclass(frozen=True)
class Created:
    row: WebhookRow
    token: str


@dataclass(frozen=True)
class Change:
    """What an edit sets; ``UNSET`` leaves it as it is (``avatar_url=None`` removes it)."""

    name: str | msgspec.UnsetType = _UNSET
    avatar_url: str | msgspec.UnsetType | None = _UNSET
    channel_id: Snowflake | msgspec.UnsetType = _UNSET
    github_secret: str | msgspec.UnsetType | None = _UNSET
    avatar_id: Snowflake | msgspec.UnsetType = _UNSET  # an upload to link (media)


class Webhooks:
    def __init__(self, platform: Platform, settings: BotsSettings, access: AccessCache) -> None:
        self._platform = platform
        self._settings = settings
        self._access = access

    # -- who may ---------------------------------------------------------------------------

    async def _manager_of(
        self, user_id: int, channel_id: int, *, field: str | None = None
    ) -> ChannelAccess:
        """The caller's access to a channel they manage webhooks in. A channel they cannot
        see is 404 (``unknown_channel`` when named in a body, else ``unknown_webhook``)."""
        try:
            access = await self._access.channel(user_id, channel_id)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            if field is None:
                raise unknown_webhook() from exc
            raise NotFound.for_field(field, "unknown channel", code="unknown_channel") from exc
        if not access.allows(Permission.VIEW_CHANNEL):
            raise (
                unknown_webhook()
                if field is None
                else NotFound.for_field(field, "unknown channel", code="unknown_channel")
            )
        if not access.allows(Permission.MANAGE_WEBHOOKS):
            raise Forbidden("missing permission MANAGE_WEBHOOKS", code="missing_permission")
        return access

    async def _managed(self, user_id: int, webhook_id: int) -> WebhookRow:
        async with self._platform.pool.acquire() as conn:
            row = await store.get(conn, webhook_id)
        if row is None:
            raise unknown_webhook()
        await self._manager_of(user_id, row.channel_id)
        return row

    async def _target_channel(self, user_id: int, server_id: int, channel_id: int) -> None:
        access = await self._manager_of(user_id, channel_id, field="channel_id")
        if access.server_id != server_id:
            raise NotFound.for_field("channel_id", "unknown channel", code="unknown_channel")
        if access.kind != "text":
            raise BadRequest.for_field(
                "channel_id", "webhooks post in text channels", code="not_a_text_channel"
            )

    # -- management ------------------------------------------------------------------------

    async def create(
        self,
        user_id: int,
        server_id: int,
        channel_id: int,
        name: str,
        avatar_url: str | None,
        github_secret: str | None = None,
        avatar_id: int | None = None,
    ) -> Created:
        if avatar_id is not None and avatar_url is not None:
            raise BadRequest.for_field("avatar_id", "give avatar_url or avatar_id, not both")
        await self._target_channel(user_id, server_id, channel_id)
        token, token_hash = new_token()
        webhook_id = self._platform.new_id()
        if avatar_id is not None:
            avatar_url = await link_avatar(
                self._platform, user_id, server_id, webhook_id, avatar_id
            )
        try:
            row = await self._insert(
                WebhookRow(
                    id=webhook_id,
                    server_id=Snowflake(server_id),
                    channel_id=Snowflake(channel_id),
                    name=name,
                    avatar_url=avatar_url,
                    creator_id=Snowflake(user_id),
                    token_hash=token_hash,
                    github_secret=github_secret,
                    created_at=datetime.now(UTC),  # the database's default is kept
                )
            )
        except BaseException:
            if avatar_id is not None:  # not stored: the upload is the caller's again
                await release_avatar(self._platform, webhook_id)
            raise
        return Created(row, token)

    async def _insert(self, new: WebhookRow) -> WebhookRow:
        async with unit_of_work(self._platform) as tx:
            await self._check_room(tx, new.channel_id)
            row = await store.insert(tx.conn, new)
            await tx.emit_server(new.server_id, WebhookCreated(webhook=row.view()))
        return row

    async def _check_room(self, tx: UnitOfWork, channel_id: int) -> None:
        # Serialises creations in one channel, so two at once cannot both take the last place.
        await tx.conn.execute("SELECT pg_advisory_xact_lock($1)", channel_id)
        if (
            await store.count_in_channel(tx.conn, channel_id)
            >= self._settings.max_webhooks_per_channel
        ):
            raise Conflict(
                f"a channel holds at most {self._settings.max_webhooks_per_channel} webhooks",
                code="too_many_webhooks",
            )

    async def of_server(self, user_id: int, server_id: int) -> list[WebhookRow]:
        """The server's webhooks in the channels where the caller manages webhooks."""
        access = await self._access.server(user_id, server_id)
        channels = access.channels_allowing(Permission.MANAGE_WEBHOOKS)
        if not channels:
            raise Forbidden("missing permission MANAGE_WEBHOOKS", code="missing_permission")
        async with self._platform.pool.acquire() as conn:
            return await store.in_channels(conn, server_id, channels)

    async def get(self, user_id: int, webhook_id: int) -> WebhookRow:
        return await self._managed(user_id, webhook_id)

    async def edit(self, user_id: int, webhook_id: int, change: Change) -> WebhookRow:
        if change.avatar_id is not _UNSET and change.avatar_url is not _UNSET:
            raise BadRequest.for_field("avatar_id", "give avatar_url or avatar_id, not both")
        row = await self._managed(user_id, webhook_id)
        if change.channel_id is not _UNSET and change.channel_id != row.channel_id:
            await self._target_channel(user_id, row.server_id, change.channel_id)
        if change.avatar_id is not _UNSET:
            url = await link_avatar(
                self._platform, user_id, row.server_id, row.id, change.avatar_id
            )
            change = replace(change, avatar_url=url)
        elif change.avatar_url is not _UNSET and _uploaded(row.avatar_url):
            await release_avatar(self._platform, row.id)  # a URL (or none) instead
        return await self._apply(row.id, change)

    async def _apply(self, webhook_id: int, change: Change) -> WebhookRow:
        async with unit_of_work(self._platform) as tx:
            row = await store.get(tx.conn, webhook_id, lock=True)
            if row is None:  # deleted meanwhile
                raise unknown_webhook()
            moved = change.channel_id is not _UNSET and change.channel_id != row.channel_id
            if moved:
                await self._check_room(tx, int(change.channel_id))  # type: ignore[arg-type]
            updated = await store.update(
                tx.conn,
                row.id,
                name=row.name if change.name is _UNSET else change.name,
                avatar_url=row.avatar_url if change.avatar_url is _UNSET else change.avatar_url,
                channel_id=row.channel_id if change.channel_id is _UNSET else change.channel_id,
                github_secret=(
                    row.github_secret if change.github_secret is _UNSET else change.github_secret
                ),
            )
            await tx.emit_server(
                row.server_id,
                WebhookUpdated(
                    webhook=updated.view(), previous_channel_id=row.channel_id if moved else None
                ),
            )
        return updated

    async def delete(self, user_id: int, webhook_id: int) -> None:
        row = await self._managed(user_id, webhook_id)
        await self._remove(row)

    async def _remove(self, row: WebhookRow) -> None:
        async with unit_of_work(self._platform) as tx:
            if not await store.delete(tx.conn, row.id):
                raise unknown_webhook()
            await tx.emit_server(
                row.server_id,
                WebhookDeleted(
                    server_id=row.server_id, channel_id=row.channel_id, webhook_id=row.id
                ),
            )

    async def regenerate(self, user_id: int, webhook_id: int) -> Created:
        """A new token; the old one is refused from the commit on."""
        row = await self._managed(user_id, webhook_id)
        token, token_hash = new_token()
        async with unit_of_work(self._platform) as tx:
            current = await store.get(tx.conn, row.id, lock=True)
            if current is None:
                raise unknown_webhook()
            await store.set_token(tx.conn, row.id, token_hash)
            await tx.emit_server(row.server_id, WebhookUpdated(webhook=current.view()))
        return Created(current, token)

    # -- with the token --------------------------------------------------------------------

    async def by_token(self, webhook_id: int, token: str) -> WebhookRow:
        """The webhook this token opens; an unknown id and a wrong token are the same 404."""
        async with self._platform.pool.acquire() as conn:
            row = await store.get(conn, webhook_id)
        if row is None or not matches(token, row.token_hash):
            raise unknown_webhook()
        return row

    async def edit_with_token(self, webhook_id: int, token: str, change: Change) -> WebhookRow:
        if change.channel_id is not _UNSET or change.github_secret is not _UNSET:
            field = "channel_id" if change.channel_id is not _UNSET else "github_secret"
            raise BadRequest.for_field(field, "only the webhook's managers change this")
        row = await self.by_token(webhook_id, token)
        if change.avatar_url is not _UNSET and _uploaded(row.avatar_url):
            await release_avatar(self._platform, row.id)
        return await self._apply(row.id, change)

    async def delete_with_token(self, webhook_id: int, token: str) -> None:
        await self._remove(await self.by_token(webhook_id, token))

    # -- with their channel or server --------------------------------------------------------

    async def remove_in_channel(self, channel_id: int) -> int:
        """The channel was deleted: its webhooks go (idempotent: a repeat finds none)."""
        async with unit_of_work(self._platform) as tx:
            return await self._announce_removed(
                tx, await store.delete_in_channel(tx.conn, channel_id)
            )

    async def remove_in_server(self, server_id: int) -> int:
        async with unit_of_work(self._platform) as tx:
            return await self._announce_removed(
                tx, await store.delete_in_server(tx.conn, server_id)
            )

    @staticmethod
    async def _announce_removed(tx: UnitOfWork, rows: list[WebhookRow]) -> int:
        for row in rows:
            await tx.emit_server(
                row.server_id,
                WebhookDeleted(
                    server_id=row.server_id, channel_id=row.channel_id, webhook_id=row.id
                ),
            )
        return len(rows)
