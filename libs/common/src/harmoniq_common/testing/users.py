"""Users for tests of services other than auth: announced as auth would, with a valid token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient

from ..bus import Subjects, ensure_streams, outgoing_headers
from ..events import UserCreated, UserSummary, encode_envelope
from ..ids import Snowflake, SnowflakeGenerator
from .keys import KeyFiles
from .tokens import access_token

__all__ = ["TestUser", "announce_user"]

# Worker ids far from any a service under test leases, so ids never collide with theirs.
_user_ids = SnowflakeGenerator(1001)
_event_ids = SnowflakeGenerator(1002)


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a pytest test class

    id: Snowflake
    name: str
    token: str
    scheme: str = "Bearer"  # "Bot" for a bot account

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"{self.scheme} {self.token}"}

    @property
    def credential(self) -> str:
        """What IDENTIFY carries: the access token, or ``Bot <token>``."""
        return f"Bot {self.token}" if self.scheme == "Bot" else self.token


async def announce_user(
    nats_client: NatsClient, namespace: str, keys: KeyFiles, name: str
) -> TestUser:
    """Publish the ``user.created`` auth would publish and mint the user an access token."""
    user_id = _user_ids.next_id()
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    event_id = _event_ids.next_id()
    now = datetime.now(UTC)
    await js.publish(
        subjects.user_event(user_id, UserCreated.event_type),
        encode_envelope(
            event_id, UserCreated(user=UserSummary(id=user_id, username=name), created_at=now), now
        ),
        headers=outgoing_headers(msg_id=str(event_id)),
    )
    return TestUser(user_id, name, access_token(keys, user_id))
