"""Helpers shared by the Salesforce tests (imported by name: a conftest is not a module to import from)."""

from __future__ import annotations

from typing import Any

from sf_fake import INSTANCE, FakeSalesforce

from stepwise.integration.salesforce_client import CallPolicy
from stepwise.settings import Settings

#: no real sleeping in tests: backoff and pauses are exercised, not waited for
FAST = CallPolicy(timeout=5, max_attempts=4, backoff=0, max_backoff=0, limit_pause=0.001, sleep=lambda _s: None)


def session_settings(**extra: Any) -> Settings:
    return Settings(SALESFORCE_INSTANCE_URL=INSTANCE, SALESFORCE_SESSION_ID="00DFAKE!session-1", **extra)


def password_settings() -> Settings:
    return Settings(SALESFORCE_USERNAME="integration@example.com", SALESFORCE_PASSWORD="s3cret-pw",
                    SALESFORCE_SECURITY_TOKEN="tok-XYZ", SALESFORCE_DOMAIN="login")


def build_org(fake: FakeSalesforce, opportunities: int, *, accounts: int | None = None,
              contacts_per_account: int = 1, tasks: int = 0, events: int = 0, leads: int = 0,
              orders: bool = True) -> dict[str, list[dict[str, Any]]]:
    """A standard org: accounts, their contacts, opportunities with a contact role each, activities, leads."""
    accounts = accounts or max(1, opportunities // 5)
    accs = fake.add("Account", accounts)
    contacts = []
    for acc in accs:
        contacts += fake.add("Contact", contacts_per_account, AccountId=acc["Id"])
    opps = []
    for i in range(opportunities):
        acc = accs[i % accounts]
        opp = fake.add("Opportunity", 1, AccountId=acc["Id"])[0]
        fake.add_role(opp["Id"], contacts[(i % accounts) * contacts_per_account]["Id"])
        opps.append(opp)
    made = {"Account": accs, "Contact": contacts, "Opportunity": opps}
    made["Task"] = [fake.add("Task", 1, WhatId=opps[i % len(opps)]["Id"], AccountId=opps[i % len(opps)]["AccountId"],
                             WhoId=contacts[0]["Id"])[0] for i in range(tasks)]
    made["Event"] = [fake.add("Event", 1, WhatId=opps[i % len(opps)]["Id"], AccountId=opps[i % len(opps)]["AccountId"],
                              WhoId=contacts[0]["Id"])[0] for i in range(events)]
    made["Lead"] = fake.add("Lead", leads) if leads else []
    if orders:
        made["Order"] = fake.add("Order", 1, AccountId=accs[0]["Id"])
        made["Contract"] = fake.add("Contract", 1, AccountId=accs[0]["Id"])
    else:
        fake.missing |= {"Order", "Contract"}
    fake.records.setdefault("Stepwise_Recommendation__c", [])
    return made
