"""HubSpot: the connector (connector.py), its client, pull, push, mapping, check, OAuth tokens and a fake.

What the rest of Stepwise may use without reaching into the package: the OAuth token exchange and
storage the web service's install flow needs (README, "HubSpot"), and the owner lookup that turns a
signed card request's HubSpot user into the owner its cards are ranked by (owners.py).
"""

from stepwise.integration.hubspot.owners import OwnerDirectory, OwnerLookupFailed, portal_clients
from stepwise.integration.hubspot.tokens import Tokens, TokenStore, exchange, token_info

__all__ = ["OwnerDirectory", "OwnerLookupFailed", "TokenStore", "Tokens", "exchange", "portal_clients", "token_info"]
