"""The files connector: a folder with one CSV per canonical table (the public CSV contract).

Required columns missing → a clear error naming file and column; a bad row →
skipped with a warning naming file, row id and reason, the rest goes through.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from stepwise.engine.records import TABLES, CanonicalData, coerce_table, drop_orphans, validate_presence
from stepwise.integration.base import Connector, ConnectorError, Pulled, SyncReport

log = logging.getLogger(__name__)


class FilesConnector(Connector):
    """Read-only, no cursors: every pull reads the whole folder (`full` changes nothing)."""

    def __init__(self, directory: str | Path, *, full: bool = False, store: object | None = None):
        if not str(directory):
            raise ConnectorError("files source needs a folder: --source files:DIR")
        self.directory = Path(directory)
        self.source = "files"
        self.last_sync = SyncReport()

    def pull(self, cursors: Mapping[str, str] | None = None) -> Pulled:
        data = self._read()
        self.last_sync = SyncReport(rows=data.counts(), skipped=len(data.skipped))
        return Pulled(data, report=self.last_sync)

    def _read(self) -> CanonicalData:
        if not self.directory.is_dir():
            raise ConnectorError(f"{self.directory}: no such folder")
        data = CanonicalData()
        for name in TABLES:
            path = self.directory / f"{name}.csv"
            if not path.exists():
                continue
            frame, issues = coerce_table(name, read_csv(path), where=str(path))
            for issue in issues:
                log.warning("%s: row %s skipped: %s", path, issue.row_id, issue.reason)
            setattr(data, name, frame)
            data.skipped.extend(issues)
        validate_presence(data)
        for issue in drop_orphans(data, lambda account: f"account_id {account} is not in accounts.csv"):
            log.warning("%s.csv: row %s skipped: %s", issue.table, issue.row_id, issue.reason)
        return data


def read_csv(path: Path) -> pd.DataFrame:
    """Every cell as text: typing is coerce_table's job, so a bad cell costs one row, not the file."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ConnectorError(f"{path}: the file is empty (it needs at least the header row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ConnectorError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None

