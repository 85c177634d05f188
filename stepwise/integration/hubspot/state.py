"""What the HubSpot connector remembers between syncs: kept by the store (stepwise/store/hubspot_state.py)."""

from stepwise.store import HubSpotState  # noqa: F401 - importers move to stepwise.store
