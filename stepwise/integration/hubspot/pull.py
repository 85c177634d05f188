"""Read from HubSpot with as few calls as the APIs allow.

- changed records: the search API, 200 per page, ascending by last-modified date with
  hs_object_id as tie-breaker; a single search stops at 10,000 results, so the
  watermark moves to the last timestamp seen and the search starts again (records
  at that timestamp are read twice and de-duplicated, never lost); 10,000 records
  sharing one timestamp (a bulk import) are walked by hs_object_id instead.
- associations: v4 batch read, 1,000 ids per call, following per-record paging.
- everything by id: batch read, 100 per call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from stepwise.integration.hubspot.client import HubSpotClient

log = logging.getLogger(__name__)

SEARCH_PAGE = 200
SEARCH_CAP = 10_000
BATCH_READ = 100
ASSOCIATION_BATCH = 1000
LIST_PAGE = 100


def to_ms(value: Any) -> int | None:
    """HubSpot datetimes come as ISO strings in properties and as epoch ms in filters."""
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def search_changed(client: HubSpotClient, object_type: str, properties: list[str], since_ms: int | None,
                   modified: str = "hs_lastmodifieddate", cap: int = SEARCH_CAP,
                   page: int = SEARCH_PAGE, where: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Every record modified at or after `since_ms` (all when None), oldest first, each once.

    `where`: more filters every record must match too (the admin's company filters).
    """
    seen: set[str] = set()
    low = since_ms
    id_after: str | None = None  # set while walking one crowded timestamp by id
    props = list(dict.fromkeys([*properties, modified]))
    while True:
        if id_after is None:
            filters = [{"propertyName": modified, "operator": "GTE", "value": str(low)}] if low is not None else []
            filters += where or []
            sorts = [{"propertyName": modified, "direction": "ASCENDING"},
                     {"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        else:
            filters = [{"propertyName": modified, "operator": "EQ", "value": str(low)},
                       {"propertyName": "hs_object_id", "operator": "GT", "value": id_after}, *(where or [])]
            sorts = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        after: str | None = None
        last_ts, last_id, finished = low, id_after, False
        while True:
            body: dict[str, Any] = {"filterGroups": [{"filters": filters}] if filters else [],
                                    "sorts": sorts, "properties": props, "limit": page}
            if after is not None:
                body["after"] = after
            data = client.call("crm.objects.search_api", "do_search", object_type, body,
                               label=f"search:{object_type}", search=True)
            for record in data.get("results", []):
                last_id = str(record["id"])
                last_ts = to_ms((record.get("properties") or {}).get(modified)) or last_ts
                if last_id not in seen:
                    seen.add(last_id)
                    yield record
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                finished = True
                break
            if int(after) >= cap:
                break  # HubSpot answers 400 past the cap: move the watermark instead
        if finished:
            if id_after is None:
                return
            low, id_after = (low or 0) + 1, None  # that timestamp is drained; go on after it
            continue
        if id_after is not None:
            id_after = last_id
        elif last_ts is not None and (low is None or last_ts > low):
            log.info("search %s: %s results reached; watermark moves to %s", object_type, cap, last_ts)
            low = last_ts
        else:
            log.info("search %s: %s records share one timestamp; walking them by id", object_type, cap)
            id_after = "0"


def batch_read(client: HubSpotClient, object_type: str, ids: list[str], properties: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), BATCH_READ):
        chunk = ids[start:start + BATCH_READ]
        body = {"properties": properties, "propertiesWithHistory": [], "inputs": [{"id": i} for i in chunk]}
        data = client.call("crm.objects.batch_api", "read", object_type, body, archived=False,
                           label=f"batch_read:{object_type}")
        out.extend(data.get("results", []))
        for error in data.get("errors", []):
            # 207: some ids are gone (deleted between search and read); the rest is good.
            log.warning("batch read %s: %s %s", object_type, error.get("category"), error.get("context", {}).get("ids"))
    return out


def associations(client: HubSpotClient, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """from id → its associations ({toObjectId, associationTypes}); records with none are absent."""
    out: dict[str, list[dict[str, Any]]] = {}
    pending: list[dict[str, str]] = [{"id": i} for i in ids]
    while pending:
        chunk, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
        data = client.call("crm.associations.v4.batch_api", "get_page", from_type, to_type, {"inputs": chunk},
                           label=f"associations:{from_type}->{to_type}")
        for result in data.get("results", []):
            from_id = str(result["from"]["id"])
            out.setdefault(from_id, []).extend(result.get("to", []))
            after = ((result.get("paging") or {}).get("next") or {}).get("after")
            if after:  # a record with more associations than one page: ask again from there
                pending.append({"id": from_id, "after": after})
    return out


def list_archived(client: HubSpotClient, object_type: str) -> list[str]:
    """Ids of archived records (the list endpoint; search never returns them)."""
    out: list[str] = []
    after: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": LIST_PAGE, "archived": True, "properties": ["hs_object_id"]}
        if after:
            kwargs["after"] = after
        data = client.call("crm.objects.basic_api", "get_page", object_type, label=f"archived:{object_type}", **kwargs)
        out.extend(str(r["id"]) for r in data.get("results", []))
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return out


def pipelines(client: HubSpotClient, object_type: str = "deals") -> list[dict[str, Any]]:
    data = client.call("crm.pipelines.pipelines_api", "get_all", object_type, label=f"pipelines:{object_type}")
    return [p for p in data.get("results", []) if not p.get("archived")]
