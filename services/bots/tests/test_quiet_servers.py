"""The no-endpoints cache's own rules (pure logic, a clock of the test's): how long an answer
is believed, what is dropped when it is full, and that a read overtaken by a change is not
kept. Its use by fan-out, against real Postgres and NATS: test_outgoing_cache.py."""

from __future__ import annotations

from harmoniq_bots.domain.quiet_servers import QuietServers, changed_subject
from harmoniq_common.bus import Subjects


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_believed_for_the_ttl_and_not_after() -> None:
    clock = Clock()
    quiet = QuietServers(ttl=2.0, capacity=10, clock=clock)
    quiet.remember(7, quiet.generation)
    clock.now += 1.999
    assert quiet.is_quiet(7)
    clock.now += 0.001
    assert not quiet.is_quiet(7)
    assert len(quiet) == 0  # an expired answer is dropped when found


def test_the_least_recently_used_server_goes_first_when_full() -> None:
    quiet = QuietServers(ttl=60.0, capacity=3, clock=Clock())
    for server_id in (1, 2, 3):
        quiet.remember(server_id, quiet.generation)
    assert quiet.is_quiet(1)  # used: 2 is now the least recent
    quiet.remember(4, quiet.generation)
    assert len(quiet) == 3
    assert [s for s in (1, 2, 3, 4) if quiet.is_quiet(s)] == [1, 3, 4]


def test_a_read_begun_before_a_change_is_not_kept() -> None:
    quiet = QuietServers(ttl=60.0, capacity=10, clock=Clock())
    read_at = quiet.generation  # fan-out starts its query ...
    quiet.forget(5)  # ... an endpoint of some server changes meanwhile ...
    quiet.remember(5, read_at)  # ... and the query's "none" may predate it
    assert not quiet.is_quiet(5)
    quiet.remember(5, quiet.generation)
    assert quiet.is_quiet(5)
    quiet.forget(5)
    assert not quiet.is_quiet(5)


def test_clear_forgets_every_server_and_overtakes_reads_in_flight() -> None:
    quiet = QuietServers(ttl=60.0, capacity=10, clock=Clock())
    quiet.remember(1, quiet.generation)
    read_at = quiet.generation
    quiet.clear()
    quiet.remember(2, read_at)
    assert not quiet.is_quiet(1) and not quiet.is_quiet(2)


def test_a_ttl_of_zero_keeps_nothing() -> None:
    quiet = QuietServers(ttl=0.0, capacity=10, clock=Clock())
    quiet.remember(1, quiet.generation)
    assert not quiet.is_quiet(1) and len(quiet) == 0


def test_the_change_subject_is_per_server_under_bots_ephemeral_subjects() -> None:
    subjects = Subjects("ns")
    assert changed_subject(subjects, 42) == "ns.eph.bots.outgoing.changed.42"
    assert changed_subject(subjects, "*") == "ns.eph.bots.outgoing.changed.*"
