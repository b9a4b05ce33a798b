"""``/api/v1/voice`` (ICE servers, the doctor) and ``/api/v1/channels/{id}/voice-states``
(who is in a voice channel; moderators' mute, deafen, move and disconnect)."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from harmoniq_common.errors import ServiceUnavailable
from harmoniq_common.ids import Snowflake
from harmoniq_common.params import SnowflakeOrMe
from harmoniq_common.ratelimit import RateLimit, limit_request
from harmoniq_common.voice import VoiceState

from ..domain.doctor import DoctorReport
from ..domain.states import Moderation
from ..domain.turn import IceServer, IceServers, mint
from .deps import D, UserRequest, dependencies
from .schemas import VoiceStateModeration

__all__ = ["ChannelVoiceStatesController", "VoiceController"]


class VoiceController(Controller):
    path = "/api/v1/voice"
    tags = ["voice"]
    dependencies = dependencies()

    @get("/ice-servers", operation_id="getIceServers")
    async def ice_servers(self, request: UserRequest, domain: D) -> IceServers:
        """STUN and TURN servers for ``RTCPeerConnection``, with TURN credentials for the
        caller that expire after the configured TTL (coturn's ``use-auth-secret``)."""
        settings = domain.settings
        if not settings.turn_secret:
            raise ServiceUnavailable("TURN is not configured", code="turn_not_configured")
        credential = mint(
            settings.turn_secret, request.user.user_id, settings.turn_credential_ttl_seconds
        )
        servers = [IceServer(urls=list(settings.stun_urls))] if settings.stun_urls else []
        servers.append(
            IceServer(
                urls=list(settings.turn_urls),
                username=credential.username,
                credential=credential.credential,
            )
        )
        return IceServers(
            ice_servers=servers,
            ttl_seconds=settings.turn_credential_ttl_seconds,
            expires_at=credential.expires_at,
        )

    @get("/doctor", operation_id="runVoiceDoctor")
    async def doctor(self, request: UserRequest, domain: D) -> DoctorReport:
        """Checks, with freshly minted credentials, that the TURN server answers, accepts them
        and allocates a relay; ``diagnosis`` says what is wrong in plain words."""
        settings = domain.settings
        await limit_request(
            request,
            request.app.state.platform.limiter,
            RateLimit("doctor", settings.doctor_rate_limit, settings.doctor_rate_period_seconds),
            str(request.user.user_id),
        )
        return await domain.doctor.run(int(request.user.user_id))


class ChannelVoiceStatesController(Controller):
    path = "/api/v1/channels/{channel_id:str}/voice-states"
    tags = ["voice"]
    dependencies = dependencies()

    @get("/", operation_id="listVoiceStates")
    async def list_states(
        self, request: UserRequest, channel_id: FromPath[Snowflake], domain: D
    ) -> list[VoiceState]:
        """Who is in a voice channel the caller can view, in the order they joined."""
        return await domain.voice.in_channel(request.user.user_id, channel_id)

    @patch("/{user_id:str}", operation_id="moderateVoiceState")
    async def moderate(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        user_id: FromPath[SnowflakeOrMe],
        data: JSONBody[VoiceStateModeration],
        domain: D,
    ) -> VoiceState:
        """Server mute (MUTE_MEMBERS), server deafen (DEAFEN_MEMBERS) or move to another voice
        channel (MOVE_MEMBERS; the user limit does not apply, the moved user needs CONNECT)."""
        me = request.user.user_id
        change = Moderation(
            mute=None if isinstance(data.mute, msgspec.UnsetType) else data.mute,
            deaf=None if isinstance(data.deaf, msgspec.UnsetType) else data.deaf,
            channel_id=None if isinstance(data.channel_id, msgspec.UnsetType) else data.channel_id,
        )
        return await domain.voice.moderate(me, channel_id, user_id.resolve(me), change)

    @delete("/{user_id:str}", operation_id="disconnectVoiceState", status_code=HTTP_204_NO_CONTENT)
    async def disconnect(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        user_id: FromPath[SnowflakeOrMe],
        domain: D,
    ) -> None:
        """Disconnect a user from voice (MOVE_MEMBERS); ``@me`` disconnects yourself."""
        me = request.user.user_id
        await domain.voice.disconnect(me, channel_id, user_id.resolve(me))
