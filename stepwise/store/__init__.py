"""Every table Stepwise keeps, and the only code that speaks SQL (README, "Where to find things").

Import from here: `from stepwise.store import Store`. The modules behind it are the store's own business.
"""

from stepwise.store.chunks import FanoutRun, RunChunks
from stepwise.store.core import FEEDBACK_REASONS, Conflict, NotFound, Store
from stepwise.store.models import ModelStore

__all__ = ["FEEDBACK_REASONS", "Conflict", "FanoutRun", "ModelStore", "NotFound", "RunChunks", "Store"]
