"""HubSpot: the connector (connector.py), its client, pull, push, mapping, check, OAuth tokens and a fake.

What the rest of Stepwise may use without reaching into the package: the OAuth token exchange and
storage the web service's install flow needs (README, "HubSpot").
"""

from stepwise.integration.hubspot.tokens import Tokens, TokenStore, exchange, token_info

__all__ = ["TokenStore", "Tokens", "exchange", "token_info"]
