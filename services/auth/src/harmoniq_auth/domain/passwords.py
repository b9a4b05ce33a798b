"""argon2id hashing, always off the event loop and bounded in concurrency.

Each hash takes tens of milliseconds and ``memory_kib`` of RAM; running it in the default
thread pool keeps the loop responsive, and the semaphore caps the memory a login storm can use.
"""

from __future__ import annotations

import asyncio
import os

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Passwords"]


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._slots = asyncio.Semaphore(max(2, (os.cpu_count() or 2) * 2))
        # Verified against when the account does not exist, so "no such user" and "wrong
        # password" take the same time.
        self._dummy = self._hasher.hash("harmoniq-timing-equaliser")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(
                self._verify, password_hash or self._dummy, password, password_hash is not None
            )

    def _verify(self, password_hash: str, password: str, real: bool) -> bool:
        try:
            return self._hasher.verify(password_hash, password) and real
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
