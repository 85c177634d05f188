"""The one place every Salesforce call goes through, under the shared call policy (integration/http.py).

simple-salesforce has no default timeout and no retry, and it re-authenticates in
a recursion of its own.  `_GovernedSalesforce` overrides its single HTTP choke
point (`_call_salesforce`, used by query, query_more, restful, describe…) so each
request — and each page of a `query_all_iter` — is sent with a timeout (the login
too: the requests session carries a default) through `Governor.call`: a token from
the shared limiter, counting, backoff.  What stays here is how Salesforce says it:

* 5xx, connection errors and UNABLE_TO_LOCK_ROW are transient (a create only when it
  provably never happened);
* 401 INVALID_SESSION_ID: log in again once, then retry;
* 403 REQUEST_LIMIT_EXCEEDED: the limiter is paused for every worker, then retried;
* `Sforce-Limit-Info` carries the org's daily usage: syncing stops before the org runs out.

Large reads go through Bulk API 2.0 query jobs (`bulk_query_iter`): create the job,
poll it with backoff until JobComplete, then page the CSV results by `Sforce-Locator` —
every one of those requests through the same governed call.

Secrets (password, token, session id, private key) are never logged or put in messages.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.util import exception_handler

from stepwise.integration import http
from stepwise.integration.base import ConnectorError
from stepwise.integration.http import (
    AuthError,
    CallError,
    CallStats,
    DailyQuotaExhausted,
    Governor,
    LocalTokenBucket,
    RateLimited,
    RateLimiter,
    TransientError,
    limiter_for,
    transient_answer,
)
from stepwise.settings import Settings

log = logging.getLogger(__name__)

TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT"})
#: Salesforce's default for most orgs is 100,000 calls / 24 h; the bucket only smooths bursts.
DEFAULT_RATE = (25, 1.0)

# The shared error types under the names the connector, the CLI and the tests know.
SalesforceCallError = CallError
SalesforceDailyQuota = DailyQuotaExhausted


class SalesforceConfigError(ConnectorError):
    """The environment does not describe a usable Salesforce connection."""


@dataclass
class CallPolicy(http.CallPolicy):
    """The shared call policy plus Salesforce's limit pause and Bulk API 2.0 polling."""

    limit_pause: float = 60.0     # REQUEST_LIMIT_EXCEEDED: everyone waits this long before the next try
    bulk_poll: float = 2.0        # Bulk API 2.0: first wait before asking a query job's state again, then doubles
    bulk_poll_max: float = 30.0
    bulk_wait: float = 3600.0     # give up on a query job still running after this long
    bulk_page: int | None = None  # maxRecords per result page (None: Salesforce's default, by size)


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout, so simple-salesforce's own login calls cannot hang."""

    def __init__(self, timeout: float | tuple[float, float]):
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class _GovernedSalesforce(Salesforce):
    """simple-salesforce with its one HTTP method replaced by the governed call (see module doc)."""

    governor: Governor
    policy: CallPolicy

    def _call_salesforce(self, method: str, url: str, name: str = "", **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.pop("retries", None)
        kwargs.pop("max_retries", None)
        kind, creates, reauthed = _kind(method, url), _creates_a_record(method, url), [False]
        return self.governor.call(lambda: self._once(method, url, name, kwargs, creates, reauthed),
                                  label=kind, kind=kind, idempotent=not creates)

    def _once(self, method: str, url: str, name: str, kwargs: dict[str, Any], creates: bool,
              reauthed: list[bool]) -> requests.Response:
        call_kwargs = dict(kwargs)
        headers = {**self.headers, **call_kwargs.pop("headers", {})}  # rebuilt per try: a re-auth changes the token
        call_kwargs.setdefault("timeout", self.policy.timeout)
        try:
            response = self.session.request(method, url, headers=headers, **call_kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            # A create that may have reached Salesforce is not repeated here: the caller's retry looks it up first.
            raise TransientError(f"{type(exc).__name__} talking to Salesforce", reason="network",
                                 refused=isinstance(exc, requests.ConnectTimeout)) from exc
        self._note_usage(response)
        status, code = response.status_code, _error_code(response)
        if status == 401 and code == "INVALID_SESSION_ID":
            if reauthed[0]:
                raise AuthError("Salesforce refused the session again right after a fresh login; "
                                "check the user's API access and the connected app's policies", status)
            reauthed[0] = True
            self._reauthenticate()
            raise TransientError("session expired; logged in again", reason="reauth", wait=0.0, refused=True)
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            raise RateLimited(f"Salesforce API limit exceeded ({_message(response)}); paused "
                              f"{self.policy.limit_pause:g}s", wait=self.policy.limit_pause, reason=code, status=status)
        if status >= 500:
            raise transient_answer(status, response.headers, f"HTTP {status} {code or ''}".strip())
        if code in TRANSIENT_CODES:  # refused as a whole: nothing was written
            raise TransientError(f"HTTP {status} {code}", reason=code, refused=True, status=status)
        if status >= 300:
            exception_handler(response, name=name)
        return response

    def _reauthenticate(self) -> None:
        if self._salesforce_login_partial is None:
            raise AuthError(
                "the Salesforce session (SALESFORCE_SESSION_ID) has expired: get a fresh one with "
                "`sf org display`, or configure username/password or JWT so Stepwise can log in itself", 401)
        self.governor.stats.reauths += 1
        log.info("salesforce: session expired, logging in again")
        try:
            self._refresh_session()
        except SalesforceAuthenticationFailed as exc:
            raise SalesforceConfigError(f"Salesforce login failed: {exc.code}: {exc.message}") from None

    def _note_usage(self, response: requests.Response) -> None:
        info = response.headers.get("Sforce-Limit-Info")
        usage = Salesforce.parse_api_usage(info).get("api-usage") if info else None
        if usage is not None:
            self.governor.note_daily_usage(usage.used, usage.total, whose="Salesforce org")


def _creates_a_record(method: str, url: str) -> bool:
    """POST …/sobjects/<Object>/ creates a record: not idempotent (upserts by external id are PATCH)."""
    return method.upper() == "POST" and re.search(r"/sobjects/[A-Za-z0-9_]+/?$", url.split("?")[0]) is not None


def _error_code(response: requests.Response) -> str | None:
    """errorCode of the REST error body `[{"message": …, "errorCode": …}]`, if that is what came back."""
    if response.status_code < 300:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    first = body[0] if isinstance(body, list) and body else body
    return first.get("errorCode") if isinstance(first, dict) else None


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
        first = body[0] if isinstance(body, list) and body else body
        return str(first.get("message", ""))
    except (ValueError, AttributeError):
        return response.text[:200]


def _kind(method: str, url: str) -> str:
    path = urlparse(url).path
    if "/jobs/" in path:
        return "bulk"
    if "/composite" in path:
        return "composite"
    if "/query" in path:
        return "query"
    if path.rstrip("/").endswith(("/describe", "/sobjects")):
        return "describe"
    return method.lower()


class BulkJobError(CallError):
    """A Bulk API 2.0 query job ended Failed or Aborted, or did not finish in time."""


def csv_records(text: str) -> Iterator[dict[str, Any]]:
    """A Bulk API 2.0 CSV result page as records shaped like the REST API's JSON.

    Empty cells are null (Bulk CSV cannot tell an empty string from null), `Account.Name`
    columns become nested `{"Account": {"Name": …}}` like a REST relationship field, and
    IsDeleted is a boolean.  Everything else stays text: the canonical coercion types it,
    exactly as it does for the CSV folder source.
    """
    for row in csv.DictReader(io.StringIO(text)):
        record: dict[str, Any] = {}
        for column, cell in row.items():
            value = None if cell in ("", None) else cell
            head, dot, rest = column.partition(".")
            if not dot:
                record[column] = value
                continue
            node = record.setdefault(head, {})
            parts = rest.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        if "IsDeleted" in record:
            record["IsDeleted"] = str(record["IsDeleted"]).lower() == "true"
        yield record


class SalesforceClient:
    """A connected, governed simple-salesforce instance plus what its calls cost."""

    def __init__(self, sf: _GovernedSalesforce, stats: CallStats):
        self.sf, self.stats = sf, stats

    @property
    def api_version(self) -> str:
        return str(self.sf.sf_version)

    @property
    def instance(self) -> str:
        return str(self.sf.sf_instance)

    def query_iter(self, soql: str, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record, page by page (`nextRecordsUrl`): one API call per page of up to 2,000 rows."""
        log.debug("salesforce: %s", soql)
        yield from self.sf.query_all_iter(soql, include_deleted=include_deleted)

    def query_page(self, soql: str, include_deleted: bool = False) -> dict[str, Any]:
        """The first page of a query (its `totalSize` says how many rows the whole query has)."""
        log.debug("salesforce: %s", soql)
        return dict(self.sf.query(soql, include_deleted=include_deleted))

    def rest_of(self, page: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of a query from its first page on, following `nextRecordsUrl`."""
        while True:
            yield from page.get("records") or ()
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.more(page["nextRecordsUrl"])

    def sobject_names(self) -> set[str]:
        """The objects this user can query (describeGlobal: one call)."""
        answer = self.sf.describe() or {}
        return {o["name"] for o in answer.get("sobjects", []) if o.get("queryable", True)}

    def bulk_query_iter(self, soql: str, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of `soql` through a Bulk API 2.0 query job (no sub-queries: Bulk 2.0 refuses them).

        Calls: 1 to create the job, 1 per state poll (the wait doubles from `bulk_poll`),
        1 per result page (`Sforce-Locator` until it says "null").
        """
        policy = self.sf.policy
        jobs = f"{self.sf.base_url}jobs/query"
        body = {"operation": "queryAll" if include_deleted else "query", "query": soql,
                "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}
        log.debug("salesforce: bulk %s", soql)
        job = self.sf._call_salesforce("POST", jobs, name="bulk2", json=body).json()
        job_id = str(job["id"])
        self._wait_for(f"{jobs}/{job_id}", job, policy)
        locator: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {}
            if locator:
                params["locator"] = locator
            if policy.bulk_page:
                params["maxRecords"] = policy.bulk_page
            response = self.sf._call_salesforce("GET", f"{jobs}/{job_id}/results", name="bulk2", params=params,
                                                headers={"Accept": "text/csv"})
            response.encoding = "utf-8"  # Bulk CSV is UTF-8; requests would guess ISO-8859-1 for text/csv
            pages += 1
            yield from csv_records(response.text)
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                log.info("salesforce: bulk query job %s: %s rows in %d page(s)", job_id,
                         job.get("numberRecordsProcessed", "?"), pages)
                return

    def _wait_for(self, url: str, job: dict[str, Any], policy: CallPolicy) -> dict[str, Any]:
        waited, pause = 0.0, policy.bulk_poll
        while job.get("state") not in ("JobComplete", "Failed", "Aborted"):
            if waited >= policy.bulk_wait:
                raise BulkJobError(f"the Bulk API query job {job.get('id')} on {job.get('object')} was still "
                                   f"{job.get('state')} after {waited:g}s; try again later (it keeps running in "
                                   "Salesforce: Setup → Bulk Data Load Jobs)")
            policy.sleep(pause)
            waited += pause
            pause = min(pause * 2, policy.bulk_poll_max)
            job.update(self.sf._call_salesforce("GET", url, name="bulk2").json())
        if job["state"] != "JobComplete":
            raise BulkJobError(f"the Bulk API query job {job.get('id')} on {job.get('object')} ended {job['state']}: "
                               f"{job.get('errorMessage') or 'no reason given'}")
        return job

    def more(self, next_records_url: str) -> dict[str, Any]:
        """The next page of a (sub-)query result."""
        return self.sf.query_more(next_records_url, identifier_is_url=True)

    def restful(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        return self.sf.restful(path, method=method, **kwargs)


def connect(settings: Settings, *, limiter: RateLimiter | None = None, policy: CallPolicy | None = None,
            version: str = "61.0") -> SalesforceClient:
    """Log in with what the environment holds: a session, JWT, or username/password/token."""
    policy = policy or CallPolicy()
    if limiter is None:
        capacity, per = DEFAULT_RATE
        limiter = limiter_for(f"salesforce:{_org_key(settings)}", capacity, per, settings.redis_url)
    kwargs: dict[str, Any] = {"version": version, "session": _TimeoutSession(policy.timeout)}
    kwargs.update(_credentials(settings))
    # __init__ logs in through the session directly (not _call_salesforce): a login is not an API call.
    try:
        sf = _GovernedSalesforce(**kwargs)
    except SalesforceAuthenticationFailed as exc:
        raise SalesforceConfigError(f"Salesforce login failed: {exc.code}: {exc.message}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise SalesforceConfigError(f"cannot reach Salesforce to log in ({type(exc).__name__})") from None
    except SalesforceError as exc:
        raise SalesforceConfigError(f"Salesforce login failed: {exc}") from None
    sf.policy, sf.governor = policy, Governor("Salesforce", policy, [limiter])
    log.info("salesforce: connected to %s (%s)", sf.sf_instance, sf.auth_type)
    return SalesforceClient(sf, sf.governor.stats)


def _credentials(s: Settings) -> dict[str, Any]:
    """The simple-salesforce keyword arguments for the first complete way to log in."""
    domain = _domain(s.salesforce_domain)
    if s.salesforce_session_id and s.salesforce_instance_url:
        return {"session_id": s.salesforce_session_id.get_secret_value(), "instance_url": s.salesforce_instance_url}
    if s.salesforce_username and s.salesforce_consumer_key and s.salesforce_private_key_file:
        if not s.salesforce_private_key_file.is_file():
            raise SalesforceConfigError(f"SALESFORCE_PRIVATE_KEY_FILE: no such file {s.salesforce_private_key_file}")
        return {"username": s.salesforce_username, "consumer_key": s.salesforce_consumer_key,
                "privatekey_file": str(s.salesforce_private_key_file), "domain": domain}
    if s.salesforce_username and s.salesforce_password:
        token = s.salesforce_security_token.get_secret_value() if s.salesforce_security_token else ""
        return {"username": s.salesforce_username, "password": s.salesforce_password.get_secret_value(),
                "security_token": token, "domain": domain}
    raise SalesforceConfigError(
        "Salesforce is not configured: set SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID, "
        "or SALESFORCE_USERNAME, SALESFORCE_CONSUMER_KEY and SALESFORCE_PRIVATE_KEY_FILE (JWT), "
        "or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN")


def _domain(value: str) -> str:
    """'login', 'test', 'acme.my' or a pasted URL (https://acme.my.salesforce.com) → what simple-salesforce wants."""
    value = value.strip() or "login"
    if "://" in value:
        value = urlparse(value).hostname or value
    return value.removesuffix(".salesforce.com")


def _org_key(s: Settings) -> str:
    # The bucket is per org (that is where the limit lives), never keyed by a secret.
    return urlparse(s.salesforce_instance_url).hostname if s.salesforce_instance_url else (
        s.salesforce_username or "default")


def local_limiter(capacity: int = 1000, per_seconds: float = 1.0) -> RateLimiter:
    """An in-memory bucket (tests, one-off commands)."""
    return LocalTokenBucket(capacity, per_seconds)
