"""One WebSocket connection: HELLO, then IDENTIFY or RESUME, then heartbeats and client events.

This coroutine reads; what the session sends goes out through its sink (sinks.py). Every
failure ends in a close code from :class:`~.protocol.Close`, never in a crash that could
touch another session.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from asyncio import FIRST_COMPLETED
from collections import deque
from typing import Any

import structlog
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from .gateway import Gateway
from .payloads import Identify, PresenceUpdate, Resume, SubscribeMembers, Typing
from .protocol import ClientFrame, Close, Op, ProtocolError, ServerFrame, Wire, parse
from .session import Session
from .sinks import GONE, sink_for
from .voice import VoiceSignal, VoiceStateUpdate

__all__ = ["serve"]

log = structlog.get_logger(__name__)


class _Budget:
    """At most ``limit`` client frames in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._times: deque[float] = deque()

    def spend(self) -> None:
        now = time.monotonic()
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()
        if len(self._times) >= self._limit:
            raise ProtocolError(Close.RATE_LIMITED, "too many frames; slow down")
        self._times.append(now)


async def _receive(
    socket: WebSocket[Any, Any, Any], timeout: float, session: Session | None
) -> bytes | str:
    """The next frame; a session closed meanwhile (revoked, drained, too slow) ends the wait
    at once rather than when the client next speaks."""
    async with asyncio.timeout(timeout):
        if session is None or session.sink.ends_receive:
            message = await socket.receive()
        else:
            receiving: asyncio.Future[Any] = asyncio.ensure_future(socket.receive())
            waiting: set[asyncio.Future[Any]] = {receiving, session.closed()}
            try:
                await asyncio.wait(waiting, return_when=FIRST_COMPLETED)
            finally:
                if not receiving.done():
                    receiving.cancel()
            if not receiving.done() or receiving.cancelled():
                raise WebSocketDisconnect(detail="session closed")
            message = receiving.result()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(detail="client went away")
    data = message.get("bytes")
    if isinstance(data, bytes):
        return data
    return str(message.get("text") or "")


async def serve(socket: WebSocket[Any, Any, Any], gateway: Gateway) -> None:
    settings = gateway.settings
    params = socket.query_params
    await socket.accept()
    try:
        wire = Wire(
            params.get("encoding", "json"), params.get("compress"), settings.max_frame_bytes
        )
    except ProtocolError as exc:
        await socket.close(code=int(exc.close), reason=exc.reason)
        return
    budget = _Budget(settings.client_events_per_window, settings.client_event_window_seconds)
    # Until IDENTIFY, frames go straight out (there is no session queue yet).
    await _send_before_session(
        socket, wire, Op.HELLO, {"heartbeat_interval": settings.heartbeat_interval_ms}
    )
    session: Session | None = None
    try:
        session = await _identified(socket, gateway, wire, budget)
        session.attach(
            sink_for(socket, wire.binary, settings.send_queue_limit, settings.send_buffer_bytes)
        )
        await _follow(socket, gateway, session, budget)
    except WebSocketDisconnect:
        pass
    except ProtocolError as exc:
        await _refuse(socket, session, exc.close, exc.reason)
    except Exception:
        log.exception("gateway.connection_failed")
        await _refuse(socket, session, Close.UNKNOWN_ERROR, "internal error")
    finally:
        if session is not None:
            await _finish(gateway, session)


async def _identified(
    socket: WebSocket[Any, Any, Any], gateway: Gateway, wire: Wire, budget: _Budget
) -> Session:
    """Frames until IDENTIFY or RESUME opens a session. One deadline from the HELLO:
    heartbeats before it are answered but do not extend it, or a client could hold a socket
    unauthenticated for ever."""
    identify_by = time.monotonic() + gateway.settings.identify_timeout_seconds
    while True:
        try:
            raw = await _receive(socket, identify_by - time.monotonic(), None)
        except TimeoutError:
            raise ProtocolError(Close.SESSION_TIMED_OUT, "no heartbeat in time") from None
        budget.spend()
        try:
            session = await _open(gateway, wire.decode(raw), wire)
        except _InvalidSession:
            # Not resumable (gone, expired, someone else's): identify afresh.
            await _send_before_session(socket, wire, Op.INVALID_SESSION, False)
            continue
        if session is not None:
            return session
        await _send_before_session(socket, wire, Op.HEARTBEAT_ACK, None)  # as promised


async def _follow(
    socket: WebSocket[Any, Any, Any], gateway: Gateway, session: Session, budget: _Budget
) -> None:
    """An identified session's frames, until it closes (a heartbeat due every interval)."""
    timeout = gateway.settings.heartbeat_interval_ms / 1000 * 1.5
    while session.closing is None:
        try:
            raw = await _receive(socket, timeout, session)
        except TimeoutError:
            raise ProtocolError(Close.SESSION_TIMED_OUT, "no heartbeat in time") from None
        frame = session.wire.decode(raw)
        if frame.op != Op.VOICE_SIGNAL:  # signals have their own budget (voice.py)
            budget.spend()
        await _handle(gateway, session, frame)


async def _refuse(
    socket: WebSocket[Any, Any, Any], session: Session | None, code: Close, reason: str
) -> None:
    """Close with ``code``: directly before a session exists, through its writer after."""
    if session is None:
        with contextlib.suppress(Exception):
            await socket.close(code=int(code), reason=reason)
    else:
        session.close(code, reason)


async def _finish(gateway: Gateway, session: Session) -> None:
    session.close(Close.UNKNOWN_ERROR, GONE)  # no-op when already closing
    code, reason = session.closing or (Close.UNKNOWN_ERROR, GONE)
    await session.sink.finish(int(code), reason)
    try:
        await gateway.disconnected(session)
    except Exception:  # Redis unavailable: the record and presence simply expire
        log.warning("gateway.disconnect_cleanup_failed", exc_info=True)


class _InvalidSession(Exception):
    pass


async def _send_before_session(
    socket: WebSocket[Any, Any, Any], wire: Wire, op: Op, data: Any
) -> None:
    """A frame before IDENTIFY, when no session (and no writer) exists yet."""
    out = wire.frame(ServerFrame(op=op, d=data))
    await (socket.send_bytes(out) if wire.binary else socket.send_text(out.decode()))


async def _open(gateway: Gateway, frame: ClientFrame, wire: Wire) -> Session | None:
    if frame.op == Op.HEARTBEAT:
        return None  # allowed before identifying
    if frame.op == Op.IDENTIFY:
        identify = parse(Identify, frame.d)
        return await gateway.identify(identify.token, wire, identify.status)
    if frame.op == Op.RESUME:
        resume = parse(Resume, frame.d)
        session = await gateway.resume(resume.token, resume.session_id, resume.seq, wire)
        if session is None:
            raise _InvalidSession
        return session
    if frame.op in set(Op):
        raise ProtocolError(Close.NOT_AUTHENTICATED, "identify first")
    raise ProtocolError(Close.UNKNOWN_OPCODE, f"unknown opcode {frame.op}")


async def _handle(gateway: Gateway, session: Session, frame: ClientFrame) -> None:
    if frame.op == Op.HEARTBEAT:
        session.send(ServerFrame(op=Op.HEARTBEAT_ACK))
        await gateway.heartbeat(session)
    elif frame.op in (Op.IDENTIFY, Op.RESUME):
        raise ProtocolError(Close.ALREADY_AUTHENTICATED, "already identified")
    elif frame.op == Op.TYPING:
        await gateway.typists.start(session, int(parse(Typing, frame.d).channel_id))
    elif frame.op == Op.PRESENCE_UPDATE:
        await gateway.set_status(session, parse(PresenceUpdate, frame.d).status)
    elif frame.op == Op.VOICE_STATE_UPDATE:
        await gateway.voice.update_state(session, parse(VoiceStateUpdate, frame.d))
    elif frame.op == Op.VOICE_SIGNAL:
        await gateway.voice.signal(session, parse(VoiceSignal, frame.d))
    elif frame.op == Op.SUBSCRIBE_MEMBERS:
        members = parse(SubscribeMembers, frame.d)
        await gateway.subscribe_members(
            session, int(members.server_id), members.subscribe, int(members.cursor or 0)
        )
    else:
        raise ProtocolError(Close.UNKNOWN_OPCODE, f"unknown opcode {frame.op}")
