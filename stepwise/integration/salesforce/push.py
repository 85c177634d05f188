"""Upsert, update and delete many records at the fewest API calls, checking every per-record result.

sObject Collections take 200 records per request (`PATCH composite/sobjects/{object}/
{external id}` to upsert, `PATCH composite/sobjects` to update by Id, `DELETE
composite/sobjects?ids=` to delete); a Composite request carries up to five of them, so 1,000
records cost one API call.  simple-salesforce 1.12 has a helper for neither, hence `restful`.
A 200 answer can still hold failed records: each result is read, errors are kept per
record, and records that hit UNABLE_TO_LOCK_ROW (another transaction held the row)
are sent again with tenacity's backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from stepwise.integration.salesforce.client import TRANSIENT_CODES, SalesforceClient

log = logging.getLogger(__name__)

COLLECTION_SIZE = 200        # Salesforce's limit per sObject Collections request
COLLECTIONS_PER_COMPOSITE = 5  # Composite: at most five collection/query subrequests per call
PER_CALL = COLLECTION_SIZE * COLLECTIONS_PER_COMPOSITE


@dataclass
class UpsertOutcome:
    written: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (external id, "CODE: message")
    calls: int = 0
    ids: dict[str, str] = field(default_factory=dict)  # external id → the record's Id, as Salesforce answered


def upsert(client: SalesforceClient, sobject: str, external_id: str, records: Sequence[dict[str, Any]],
           *, attempts: int = 3, backoff: float = 1.0, sleep: Callable[[float], None] | None = None) -> UpsertOutcome:
    """Upsert `records` (dicts of field → value, each holding `external_id`); never raises per record."""
    url = f"/services/data/v{client.api_version}/composite/sobjects/{sobject}/{external_id}"
    return _write(client, sobject, external_id, url, records, attempts=attempts, backoff=backoff, sleep=sleep)


def update(client: SalesforceClient, sobject: str, records: Sequence[dict[str, Any]],
           *, attempts: int = 3, backoff: float = 1.0, sleep: Callable[[float], None] | None = None) -> UpsertOutcome:
    """Update existing records by their Id (each dict holds "Id"); outcomes are keyed by Id."""
    url = f"/services/data/v{client.api_version}/composite/sobjects"
    return _write(client, sobject, "Id", url, records, attempts=attempts, backoff=backoff, sleep=sleep)


def delete(client: SalesforceClient, ids: Sequence[str]) -> UpsertOutcome:
    """Delete records by Id, 1,000 per call.  A record already gone (ENTITY_IS_DELETED, or an Id Salesforce
    no longer knows) counts as deleted: that is what was asked."""
    outcome = UpsertOutcome()
    base = f"/services/data/v{client.api_version}/composite/sobjects"
    for start in range(0, len(ids), PER_CALL):
        batch = list(ids[start:start + PER_CALL])
        chunks = [batch[i:i + COLLECTION_SIZE] for i in range(0, len(batch), COLLECTION_SIZE)]
        body = {"allOrNone": False, "compositeRequest": [
            {"method": "DELETE", "url": f"{base}?ids={','.join(chunk)}&allOrNone=false", "referenceId": f"chunk{i}"}
            for i, chunk in enumerate(chunks)]}
        answer = client.restful("composite", method="POST", json=body) or {}
        outcome.calls += 1
        by_ref = {sub.get("referenceId"): sub for sub in answer.get("compositeResponse", [])}
        for i, chunk in enumerate(chunks):
            sub = by_ref.get(f"chunk{i}") or {}
            results = sub.get("body")
            if sub.get("httpStatusCode", 500) >= 300 or not isinstance(results, list) or len(results) != len(chunk):
                code, message = _first_error(results)
                outcome.failed += [(record_id, f"{code}: {message}") for record_id in chunk]
                continue
            for record_id, result in zip(chunk, results):
                errors = result.get("errors") or []
                if result.get("success") or any(e.get("statusCode") in GONE_CODES for e in errors):
                    outcome.written.append(record_id)
                else:
                    outcome.failed.append((record_id, "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors)
                                           or "UNKNOWN: no error detail"))
    return outcome


#: a delete that finds the record already deleted (or never there) has nothing left to do
GONE_CODES = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "INVALID_ID_FIELD"})


def _write(client: SalesforceClient, sobject: str, key: str, url: str, records: Sequence[dict[str, Any]],
           *, attempts: int, backoff: float, sleep: Callable[[float], None] | None) -> UpsertOutcome:
    outcome = UpsertOutcome()
    typed = [{"attributes": {"type": sobject}, **r} for r in records]

    def send(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One round over `pending`; returns the records worth another round (row locks)."""
        retry: list[dict[str, Any]] = []
        for start in range(0, len(pending), PER_CALL):
            retry += _one_call(client, url, key, pending[start:start + PER_CALL], outcome)
        return retry

    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    rounds = Retrying(
        retry=retry_if_result(bool), stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff, max=30), retry_error_callback=lambda state: state.outcome.result(),
        **kwargs,
    )
    pending = typed
    for attempt in rounds:
        with attempt:
            pending = send(pending)
        if not attempt.retry_state.outcome.failed:
            attempt.retry_state.set_result(pending)
    for record in pending:  # still locked after the last round
        outcome.failed.append((record[key], "UNABLE_TO_LOCK_ROW: the record stayed locked; try the next sync"))
    return outcome


def _one_call(client: SalesforceClient, url: str, external_id: str, records: list[dict[str, Any]],
              outcome: UpsertOutcome) -> list[dict[str, Any]]:
    chunks = [records[i:i + COLLECTION_SIZE] for i in range(0, len(records), COLLECTION_SIZE)]
    body = {
        "allOrNone": False,  # one failed collection must not roll back the other four
        "compositeRequest": [
            {"method": "PATCH", "url": url, "referenceId": f"chunk{i}", "body": {"allOrNone": False, "records": chunk}}
            for i, chunk in enumerate(chunks)
        ],
    }
    answer = client.restful("composite", method="POST", json=body) or {}
    outcome.calls += 1
    by_ref = {sub.get("referenceId"): sub for sub in answer.get("compositeResponse", [])}
    retry: list[dict[str, Any]] = []
    for i, chunk in enumerate(chunks):
        sub = by_ref.get(f"chunk{i}")
        if sub is None:
            outcome.failed += [(r[external_id], "NO_RESPONSE: Salesforce returned no result for this record") for r in chunk]
            continue
        results = sub.get("body")
        if sub.get("httpStatusCode", 500) >= 300 or not isinstance(results, list) or len(results) != len(chunk) \
                or not all(isinstance(r, dict) and "success" in r for r in results):
            # The whole collection was refused (malformed, no access…): every record carries that error.
            code, message = _first_error(results)
            if code in TRANSIENT_CODES:
                retry += chunk
            else:
                outcome.failed += [(r[external_id], f"{code}: {message}") for r in chunk]
            continue
        for record, result in zip(chunk, results):  # results come back in request order
            if result.get("success"):
                outcome.written.append(record[external_id])
                if result.get("id"):
                    outcome.ids[record[external_id]] = str(result["id"])
                continue
            errors = result.get("errors") or [{"statusCode": "UNKNOWN", "message": "no error detail"}]
            if any(e.get("statusCode") in TRANSIENT_CODES for e in errors):
                retry.append(record)
            else:
                detail = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors)
                outcome.failed.append((record[external_id], detail))
    if retry:
        log.info("salesforce: %d record(s) locked by another transaction, will retry", len(retry))
    return retry


def _first_error(body: Any) -> tuple[str, str]:
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        return str(first.get("errorCode") or first.get("statusCode") or "ERROR"), str(first.get("message", ""))
    return "ERROR", str(body)[:200]
