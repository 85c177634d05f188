"""Exactly one beat: a leader lock in Redis that a second beat cannot take.

Two schedulers would send every periodic task twice.  The beat holds a
short-lived Redis key and refreshes it; a second beat finds it taken and
exits with a clear message; if the leader dies, the key expires and a
standby can start.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

import redis

log = logging.getLogger(__name__)

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
        while not self._stop.wait(self.ttl / 3):
            try:
                self.refresh()
            except redis.RedisError as exc:
                # Redis down or restarting: keep scheduling (the beat reconnects) and keep trying;
                # refresh() re-takes the key when Redis is back without it.
                log.warning("beat leader lock not refreshed (%s: %s); retrying", type(exc).__name__, exc)

    def refresh(self) -> bool:
        """Extend the lock; if Redis lost it (a restart without persistence) take it again.

        Returns False, and calls `on_lost`, when another beat holds it: two schedulers must never run.
        """
        # Compare-and-extend: only the holder may extend (the key may have expired and moved on).
        extend = self.client.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0")
        if extend(keys=[self.key], args=[self.identity, self.ttl]):
            return True
        if self.client.set(self.key, self.identity, nx=True, ex=self.ttl):
            log.warning("beat leader lock was gone from Redis (restarted?); taken again by %s", self.identity)
            return True
        holder = self.client.get(self.key)
        log.error("beat leadership lost to %s; this beat stops", holder.decode() if holder else "another process")
        self._stop.set()
        self.on_lost()
        return False

    def on_lost(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    def release(self) -> None:
        self._stop.set()
        release = self.client.register_script(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
        release(keys=[self.key], args=[self.identity])
