"""Exactly one beat: a leader lock in Redis that a second beat cannot take.

Two schedulers would send every periodic task twice.  The beat holds a
short-lived Redis key and refreshes it; a second beat finds it taken and
exits with a clear message; if the leader dies, the key expires and a
standby can start.
"""

from __future__ import annotations

import os
import socket
import threading

import redis

LEADER_KEY = "stepwise:beat:leader"


class NotLeader(RuntimeError):
    pass


class LeaderLock:
    def __init__(self, client: redis.Redis, ttl_seconds: int = 30, key: str = LEADER_KEY):
        self.client, self.ttl, self.key = client, ttl_seconds, key
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        if not self.client.set(self.key, self.identity, nx=True, ex=self.ttl):
            holder = self.client.get(self.key)
            who = holder.decode() if holder else "another process"
            raise NotLeader(f"another beat is already running ({who}); run exactly one beat")
        self._thread = threading.Thread(target=self._refresh, name="beat-leader", daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        # Compare-and-extend: only the holder may extend (the key may have expired and moved on).
        extend = self.client.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0")
        while not self._stop.wait(self.ttl / 3):
            extend(keys=[self.key], args=[self.identity, self.ttl])

    def release(self) -> None:
        self._stop.set()
        release = self.client.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
        release(keys=[self.key], args=[self.identity])
