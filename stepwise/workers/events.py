"""CRM change events → a re-score within seconds, each event once, older ones ignored.

A webhook may deliver the same event twice and events out of order.  One Lua
script decides atomically per event: seen before → duplicate; older than the
newest event already taken for that record → stale; otherwise taken.  Taken
events of one source within a few seconds share one incremental sync (the
connectors pull only what changed), so a burst of 500 property changes is one
sync, not 500.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

_DECIDE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) == false then return 'duplicate' end
local newest = tonumber(redis.call('GET', KEYS[2]) or '-1')
if tonumber(ARGV[1]) < newest then return 'stale' end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
return 'taken'
"""
SEEN_TTL_SECONDS = 3 * 24 * 3600  # HubSpot retries a failed delivery for up to ~24 h
DEBOUNCE_SECONDS = 5


@dataclass(frozen=True)
class ChangeEvent:
    source: str
    event_id: str
    record_id: str
    occurred_at_ms: int


class EventGate:
    def __init__(self, client: redis.Redis):
        self.client = client
        self._decide = client.register_script(_DECIDE)

    def decide(self, event: ChangeEvent) -> str:
        keys = [f"stepwise:event:{event.source}:{event.event_id}",
                f"stepwise:record-newest:{event.source}:{event.record_id}"]
        result = self._decide(keys=keys, args=[event.occurred_at_ms, event.event_id, SEEN_TTL_SECONDS])
        return result.decode() if isinstance(result, bytes) else result

    def forget(self, events: list[ChangeEvent]) -> None:
        """Undo 'seen' for events whose sync could not be queued, so the CRM's redelivery is taken."""
        if events:
            self.client.delete(*(f"stepwise:event:{e.source}:{e.event_id}" for e in events),
                               *{f"stepwise:sync-pending:{e.source}" for e in events})

    def claim_sync(self, source: str) -> bool:
        """True for the first event of a burst: only it queues the sync that serves the whole burst."""
        return bool(self.client.set(f"stepwise:sync-pending:{source}", "1", nx=True, ex=DEBOUNCE_SECONDS))


def accept(events: list[ChangeEvent], gate: EventGate, queue_sync) -> dict[str, int]:
    """Filter the events and queue at most one sync per source; returns the counts for the response."""
    counts = {"taken": 0, "duplicate": 0, "stale": 0, "syncs_queued": 0}
    taken: list[ChangeEvent] = []
    for event in events:
        verdict = gate.decide(event)
        counts[verdict] += 1
        if verdict == "taken":
            taken.append(event)
    try:
        for source in sorted({e.source for e in taken}):
            if gate.claim_sync(source):
                queue_sync(source)
                counts["syncs_queued"] += 1
    except Exception:
        gate.forget(taken)  # the caller answers an error; the redelivery must not read as a duplicate
        raise
    return counts
