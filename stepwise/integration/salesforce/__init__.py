"""Salesforce: the connector (connector.py), its client, bulk reads, mirror, push, mapping, check, fields and a fake."""
