"""Servers known to have no enabled outgoing endpoint, so the fan-out of their events (nearly
all events: few servers register endpoints) costs no Postgres query.

Only that negative answer is kept: a server with endpoints is asked of Postgres at every event,
as before (its endpoints' types and viewers decide per event). Invalidation, and why it is
enough (see docs/decisions.md, "Outgoing webhooks: the no-endpoints cache"):

* every change to an endpoint of server S (create, edit, delete, disable) is followed, after
  its commit, by :meth:`QuietServers.forget` in the instance that made it, at once, and by a
  core NATS message on :func:`changed_subject` that every instance turns into ``forget(S)``;
* an answer read from Postgres is remembered only if nothing was forgotten while it was being
  read (:attr:`generation`): a query that began before a commit and ended after its
  notification cannot store the stale "none";
* a lost notification (NATS down, a process dead between commit and publish) is covered by the
  TTL: a remembered "none" is believed for ``ttl`` seconds at most;
* at most ``capacity`` servers are kept, least recently used dropped first.

One event loop per process uses it, so it needs no lock.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from harmoniq_common.bus import Subjects

__all__ = ["QuietServers", "changed_subject"]


def changed_subject(subjects: Subjects, server_id: int | str) -> str:
    """Core NATS, bots' own: "an endpoint of this server changed" (``"*"``: any server)."""
    return subjects.ephemeral("bots", "outgoing", "changed", server_id)


class QuietServers:
    def __init__(
        self,
        *,
        ttl: float,
        capacity: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._until: OrderedDict[int, float] = OrderedDict()  # server id -> believed until
        # Bumped by every forget/clear: a read started under an older value may be stale.
        self.generation = 0

    def __len__(self) -> int:
        return len(self._until)

    def is_quiet(self, server_id: int) -> bool:
        """True while a remembered "no enabled endpoint" for this server still holds."""
        until = self._until.get(server_id)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[server_id]
            return False
        self._until.move_to_end(server_id)
        return True

    def remember(self, server_id: int, read_at_generation: int) -> None:
        """Postgres said this server has no enabled endpoint, in a read begun when
        :attr:`generation` was ``read_at_generation``; kept unless something was forgotten
        since (the read may predate that change)."""
        if read_at_generation != self.generation or self._ttl <= 0:
            return
        self._until[server_id] = self._clock() + self._ttl
        self._until.move_to_end(server_id)
        while len(self._until) > self._capacity:
            self._until.popitem(last=False)

    def forget(self, server_id: int) -> None:
        self.generation += 1
        self._until.pop(server_id, None)

    def clear(self) -> None:
        """Forget every server (after a NATS reconnection: notifications may have been lost)."""
        self.generation += 1
        self._until.clear()
