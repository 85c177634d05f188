"""Every table Stepwise keeps, and the only code that speaks SQL (README, "Where to find things").

Import from here: `from stepwise.store import Store`. The modules behind it are the store's own business:
schema.py holds every table, engine.py and database.py the connection, and one module per concern the SQL.
"""

from stepwise.store.alert_log import AlertKey, AlertLog
from stepwise.store.chunks import FanoutRun, RunChunks
from stepwise.store.core import Store
from stepwise.store.database import Conflict, NotFound, StoreError, StoreUnavailable
from stepwise.store.feedback import FEEDBACK_REASONS
from stepwise.store.holdout import HoldoutLog
from stepwise.store.hubspot_state import HubSpotState
from stepwise.store.llm_drafts import LLMDrafts
from stepwise.store.models import ModelStore
from stepwise.store.salesforce_cards import CardRow, SalesforceCards
from stepwise.store.today import TodayLists
from stepwise.store.tokens import OAuthTokenRows, SealedTokens

__all__ = [
    "FEEDBACK_REASONS", "AlertKey", "AlertLog", "CardRow", "Conflict", "FanoutRun", "HoldoutLog", "HubSpotState", "LLMDrafts", "ModelStore", "NotFound", "OAuthTokenRows",
    "RunChunks", "SalesforceCards", "SealedTokens", "Store", "StoreError", "StoreUnavailable", "TodayLists",
]
