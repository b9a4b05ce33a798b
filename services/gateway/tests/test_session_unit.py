"""The session's own rules, without a network: sequences and the slow-client limit."""

from __future__ import annotations

from harmoniq_gateway.protocol import Close, Wire
from harmoniq_gateway.session import CATCH_UP, SEQ_SHIFT, Session, resume_point
from harmoniq_gateway.sinks import PendingFrames
from harmoniq_gateway.websocket import frame_header, payload_length


def test_sequences_grow_and_resume_from_the_stream_position() -> None:
    session = Session(1, Wire("json", None, 1024), queue_limit=10)
    assert session.take_durable(5, 0)
    first = session.seq
    assert session.next_ephemeral_seq() > first
    assert not session.take_durable(5, 0)  # a replay of what it had
    assert session.take_durable(9, 0)
    assert session.seq == 9 << SEQ_SHIFT and session.seq > first
    assert resume_point(session.next_ephemeral_seq()) == 9


def test_a_held_session_waits_for_its_generation() -> None:
    session = Session(1, Wire("json", None, 1024), queue_limit=10)
    session.hold_until = 3
    assert not session.take_durable(5, 2)  # an older consumer: not all its subjects
    assert session.last_durable == 0  # still owed: the newer consumer replays it
    assert not session.take_durable(5, CATCH_UP)  # waits for a consumer, not a catch-up
    assert session.take_durable(5, 3)
    session.hold_until = CATCH_UP
    assert not session.take_durable(6, 4)
    assert session.take_durable(6, CATCH_UP)


def test_a_client_too_far_behind_is_closed_to_resume_and_nothing_more_is_queued() -> None:
    session = Session(1, Wire("json", None, 1024), queue_limit=2)
    for _ in range(3):
        session.send_bytes(b"{}")
    assert session.closing is not None and session.closing[0] == Close.TOO_SLOW
    assert session.closing is not None
    session.send_bytes(b"{}")
    assert isinstance(session.sink, PendingFrames) and len(session.sink.frames) == 3


def test_server_frame_headers_carry_the_length_in_each_of_its_three_forms() -> None:
    """RFC 6455 §5.2: 7 bits up to 125, then 16 bits, then 64 bits; FIN set, never masked."""
    for length, header in [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ]:
        assert frame_header(0x1, length) == header
    assert frame_header(0x2, 5) == b"\x82\x05"


def test_a_headers_payload_length_is_read_back_in_each_form_or_waited_for() -> None:
    """payload_length reads what frame_header writes; None while the extension is cut off."""
    for length in (0, 125, 126, 65535, 65536, 2**40):
        header = frame_header(0x1, length)
        assert payload_length(header, 2, header[1] & 0x7F) == (length, len(header))
        assert payload_length(header[:-1], 2, header[1] & 0x7F) is None or length < 126
