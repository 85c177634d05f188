"""Every table Stepwise keeps, in one MetaData, and the column types they share.

The Store creates them all on first use (`create_tables`: CREATE TABLE IF NOT EXISTS, so a new table
reaches an existing database on its next start). The modules beside this one hold the SQL on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from stepwise.store.values import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: SQLite keeps no offset, PostgreSQL returns the session's zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)


# -- runs, recommendations, the reps' feedback, sync cursors ------------------------------------------

runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("source", String(200), nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("counts", Json),
    Column("model_version", String(100)),
    Column("error", Text),
)

recommendations = Table(
    "recommendations", metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(32)),  # no FK: runs may be pruned while their recommendations live on
    Column("source", String(200), nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("deal_id", String(200)),
    Column("account_id", String(200)),
    Column("lead_id", String(200)),
    Column("action_id", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("rank", Integer, nullable=False),
    # ISO date strings: they sort and compare correctly as text on every backend.
    Column("as_of", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(32)),
    Column("snooze_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("payload", Json, nullable=False),
    Index("ix_recommendations_record", "source", "record_type", "record_id"),
    # Account-level cards shown on a deal: every equality of that query, so the planner never prefers (source, as_of).
    Index("ix_recommendations_account_cards", "source", "account_id", "record_type", "as_of"),
    Index("ix_recommendations_source_as_of", "source", "as_of"),
    # A deal's account when deal_accounts does not know the deal: without it, every card for an unknown deal scanned the source.
    Index("ix_recommendations_deal", "source", "deal_id"),
)

feedback_events = Table(
    "feedback_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recommendation_id", String(64), ForeignKey("recommendations.id"), nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("reason", String(32)),
    Column("note", Text),
    Column("snooze_until", UTCDateTime),
    Column("user", String(200), nullable=False),
    Column("idempotency_key", String(200), unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

sync_cursors = Table(
    "sync_cursors", metadata,
    Column("source", String(200), primary_key=True),
    Column("object", String(100), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

deal_accounts = Table(
    "deal_accounts", metadata,
    Column("source", String(200), primary_key=True),
    Column("deal_id", String(200), primary_key=True),
    Column("account_id", String(200), nullable=False),
)

# What `Store.counts()` (and so `stepwise status`) reports, in the order it always has.
COUNTED = (deal_accounts, recommendations, runs, sync_cursors, feedback_events)

# -- the dashboard: each deal's stage and outcome, from the CRM pull ----------------------------------

deal_outcomes = Table(
    "deal_outcomes", metadata,
    Column("source", String(200), primary_key=True),
    Column("deal_id", String(200), primary_key=True),
    Column("stage", String(32), nullable=False),
    Column("is_closed", Boolean, nullable=False),
    Column("is_won", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# -- a fanned-out run's plan and progress (chunks.py) -------------------------------------------------

fanout_runs = Table(
    "fanout_runs", metadata,
    Column("run_id", String(32), primary_key=True),
    Column("source", String(200), nullable=False),      # the recommendations' source (e.g. hubspot-123)
    Column("spec", String(500), nullable=False),        # the connector spec, e.g. "salesforce" or "files:DIR"
    Column("full", Boolean, nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("write_back", Boolean, nullable=False),
    Column("population", Json, nullable=False),
    Column("pulled", Json, nullable=False),             # rows per table, for the run's counts
    Column("skipped_rows", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("finishing", Boolean, nullable=False),       # claimed by the chunk that settled the last one
    Column("created_at", UTCDateTime, nullable=False),
)

run_chunks = Table(
    "run_chunks", metadata,
    Column("run_id", String(32), primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("status", String(16), nullable=False),       # pending → done | failed
    Column("records", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("payload", LargeBinary),                      # the chunk's canonical tables until scored
    Column("counts", Json),
    Column("error", Text),
    Column("worker", String(200)),                       # host:pid that settled it (which worker did what)
    Column("updated_at", UTCDateTime, nullable=False),
)

# The predictions a run learned at plan time (engine/predictions.Predictors, joblib), read by every chunk:
# a chunk cannot learn them from its own slice of the history, and must score as a single pass would.
run_predictors = Table(
    "run_predictors", metadata,
    Column("run_id", String(32), primary_key=True),
    Column("artifact", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# -- trained model versions (models.py) ---------------------------------------------------------------

model_artifacts = Table(
    "model_artifacts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("trained_as_of", String(10), nullable=False),  # the training window's last day (YYYY-MM-DD)
    Column("train_from", String(10), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("metrics", Text, nullable=False),
    Column("artifact", LargeBinary, nullable=False),
    UniqueConstraint("source", "version", name="uq_model_source_version"),
)

# -- what the HubSpot connector remembers between syncs (hubspot_state.py) ----------------------------

hubspot_rows = Table(
    "hubspot_rows", metadata,
    Column("account", String(64), primary_key=True),
    Column("tbl", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("deal_id", String(200)),      # the deal whose context this row came with (activities)
    Column("fingerprint", String(64)),   # deals: the hash of the properties we read
    Column("data", JSON, nullable=False),
    # deal_id first: with (account, tbl, …) PostgreSQL, planning on stale statistics right after a
    # big load, picked this index for `row_id IN (…)` lookups and scanned the whole table each time.
    Index("ix_hubspot_rows_by_deal", "deal_id", "account", "tbl"),
)

hubspot_written = Table(
    "hubspot_written", metadata,
    Column("account", String(64), primary_key=True),
    Column("deal_id", String(200), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
)

hubspot_tasks = Table(
    "hubspot_tasks", metadata,
    Column("recommendation_id", String(64), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("deal_id", String(200), nullable=False),
    Column("task_id", String(64)),  # null between "about to create" and "created"
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# -- Salesforce write-back: one Stepwise_Recommendation__c per card (salesforce_cards.py) ----------------

salesforce_cards = Table(
    "salesforce_cards", metadata,
    Column("org", String(200), primary_key=True),        # the instance: one org's cards never mix with another's
    Column("card_key", String(64), primary_key=True),    # Stepwise_Id__c, the record's external id
    Column("sf_id", String(18)),                         # the record's Id, for deletes (null until Salesforce says)
    Column("rec_id", String(64)),                        # the recommendation the record shows: reps' answers go to it
    Column("hash", String(32)),                          # what was last written (null: unknown, write it again)
    Column("retired_on", String(10)),                    # ISO day it stopped being recommended; null while current
    Column("best_before", String(10)),                   # Best_Before__c as written: past it, the card is written again
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_salesforce_cards_retired", "org", "retired_on"),
)

# -- OAuth tokens of HubSpot public-app installs (tokens.py) ------------------------------------------

hubspot_oauth_tokens = Table(
    "hubspot_oauth_tokens", metadata,
    Column("portal_id", String(32), primary_key=True),
    Column("refresh_token", Text, nullable=False),   # Fernet-encrypted
    Column("access_token", Text, nullable=False),    # Fernet-encrypted too: a DB dump is not a login
    Column("expires_at", Float, nullable=False),     # epoch seconds
    Column("scopes", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# -- what the LLM writer remembers between runs (llm_drafts.py) --------------------------------------

llm_drafts = Table(
    "llm_drafts", metadata,
    Column("key", String(64), primary_key=True),   # sha256 of the recommendation, its approved facts, model, language
    Column("rec_id", String(64), nullable=False),
    Column("day", String(10), nullable=False),     # UTC day it was written: older ones are dropped
    Column("model", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # used | rejected
    Column("draft", JSON),                          # the filled draft, when used
    Column("codes", JSON),                          # the allowlist's reason codes, when rejected
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_llm_drafts_day", "day"),
)

llm_budget = Table(
    "llm_budget", metadata,
    Column("day", String(10), primary_key=True),   # UTC day
    Column("calls", Integer, nullable=False),      # model calls reserved that day (STEPWISE_LLM_BUDGET caps it)
)


# -- alerts sent to the reps' Slack or Teams webhooks (alert_log.py) ----------------------------------

alert_log = Table(
    "alert_log", metadata,
    Column("card_key", String(64), primary_key=True),   # the card (its key across days)
    Column("day", String(10), primary_key=True),        # the run's day: a card alerts at most once a day
    Column("channel", String(200), primary_key=True),   # the webhook's name in STEPWISE_ALERTS_FILE, never its URL
    Column("source", String(200), nullable=False),
    Column("owner_id", String(200), nullable=False),
    Column("rec_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),       # reserved | sent | failed
    Column("attempts", Integer, nullable=False),        # sends started (a reservation retaken after a crash or a failure)
    Column("reserved_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("error", String(500)),                       # the last failure, URL-free
    Index("ix_alert_log_day", "day"),
)

alert_quota = Table(
    "alert_quota", metadata,
    Column("owner_id", String(200), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("reserved", Integer, nullable=False),        # alerts reserved for the rep that day (the daily cap bounds it)
)

# -- the randomised holdout and the outcomes it is measured by (holdout.py; README, "Measured lift") --

# The control cards: held back, kept "as if shown" (the shown ones are `recommendations` rows whose
# payload carries the same mark in extra.holdout).  One row per card per day, keyed like a recommendation.
holdout_cards = Table(
    "holdout_cards", metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(32)),
    Column("source", String(200), nullable=False),
    Column("card_key", String(64), nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("deal_id", String(200)),
    Column("account_id", String(200)),
    Column("lead_id", String(200)),
    Column("action_id", String(200), nullable=False),
    Column("as_of", String(32), nullable=False),
    Column("period", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("p_shown", Float, nullable=False),
    Column("policy", String(200), nullable=False),
    Column("family", String(64), nullable=False),
    Column("outcomes", String(200), nullable=False),
    Column("products", Text),  # the offered product ids, space-separated
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_holdout_cards_source_as_of", "source", "as_of"),
)

# One card in one assignment period, from the first day it was proposed that month; its outcomes are
# read from the canonical tables on later runs until every outcome's window is over.
holdout_units = Table(
    "holdout_units", metadata,
    Column("source", String(200), primary_key=True),
    Column("record_type", String(16), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("action_id", String(200), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("arm", String(16), nullable=False),          # shown | control | excluded
    Column("first_day", String(32), nullable=False),
    Column("deal_id", String(200)),
    Column("account_id", String(200)),
    Column("lead_id", String(200)),
    Column("family", String(64), nullable=False),
    Column("outcomes", String(200), nullable=False),    # "kind:days,…" as the catalog said on the first day
    Column("p_shown", Float, nullable=False),
    Column("policy", String(200), nullable=False),
    Column("products", Text),
    Column("events", Json),                             # {kind: first event day}
    Column("open", Boolean, nullable=False),            # some outcome's window not over yet
    Index("ix_holdout_units_open", "source", "open"),
)

# The stage (deals) and status (leads) each run saw, as change points: what "stage advance" and
# "converted" are read from, with no new CSV column.
record_stages = Table(
    "record_stages", metadata,
    Column("source", String(200), primary_key=True),
    Column("record_type", String(16), primary_key=True),
    Column("record_id", String(200), primary_key=True),
    Column("day", String(32), primary_key=True),
    Column("stage", String(32), nullable=False),
)

# Per source: the last day the units were gathered and the outcomes read.
holdout_progress = Table(
    "holdout_progress", metadata,
    Column("source", String(200), primary_key=True),
    Column("synced_through", String(32), nullable=False),
    Column("checked_on", String(32), nullable=False),
)

# -- each rep's "Today" list (today.py; engine/today.py chooses it) --------------------------------------

today_lists = Table(
    "today_lists", metadata,
    Column("source", String(200), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("owner_id", String(200), primary_key=True),
    Column("rank", Integer, primary_key=True),
    Column("card_key", String(64), nullable=False),
    Column("recommendation_id", String(64), nullable=False),
    Column("value", Float, nullable=False),   # what the card was listed with: a re-sync compares against it
    Column("urgency", String(16), nullable=False),
)
