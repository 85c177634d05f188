"""A local copy of the mapped Salesforce records, so an incremental sync can still score everything.

The engine needs every open deal each day (signals age: "no touch for 12 days"),
but an incremental sync only fetches what changed.  The mirror keeps the raw
canonical rows per Salesforce object; a sync applies its changes and deletions
and the connector coerces the whole mirror.  One pickle per object, written
atomically; a missing or unreadable mirror simply means the next sync is a full one.
"""

from __future__ import annotations

import logging
import os
import pickle
import uuid
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from stepwise.integration.salesforce.mapping import PARENT_ID, SF_ID

log = logging.getLogger(__name__)


class Mirror:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._frames: dict[str, pd.DataFrame] = {}

    @property
    def ident(self) -> str | None:
        """This copy's id (made on first save): cursors are stored per copy, so a worker on another
        machine, with its own older copy, never skips changes another copy already applied."""
        path = self.directory / "mirror-id"
        return path.read_text().strip() if path.is_file() else None

    def note(self, name: str, value: str | None = None) -> str | None:
        """A small fact saved beside the copy (e.g. which mapping made it); read when value is None."""
        path = self.directory / f"{name}.txt"
        if value is None:
            return path.read_text().strip() if path.is_file() else None
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
        return value

    def has(self, key: str) -> bool:
        return key in self._frames or self._file(key).is_file()

    def get(self, key: str) -> pd.DataFrame | None:
        if key not in self._frames:
            path = self._file(key)
            if not path.is_file():
                return None
            try:
                self._frames[key] = pd.read_pickle(path)
            except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
                log.warning("salesforce mirror %s unreadable (%s): a full sync will rebuild it", path, exc)
                return None
        return self._frames[key]

    def replace(self, key: str, frame: pd.DataFrame) -> None:
        self._frames[key] = frame.reset_index(drop=True)

    def apply(self, key: str, changed: pd.DataFrame, deleted: Iterable[str]) -> None:
        """Upsert `changed` rows by Salesforce Id and drop the deleted ones (overlap duplicates are harmless)."""
        old = self.get(key)
        if old is None:
            self.replace(key, changed)
            return
        gone = set(changed[SF_ID]) | set(deleted)
        self.replace(key, pd.concat([old[~old[SF_ID].isin(gone)], changed], ignore_index=True))

    def apply_children(self, key: str, changed: pd.DataFrame, parents: Iterable[str]) -> None:
        """A changed or deleted parent's children are replaced as a whole (a removed contact role disappears)."""
        old = self.get(key)
        if old is None:
            self.replace(key, changed)
            return
        touched = set(parents)
        self.replace(key, pd.concat([old[~old[PARENT_ID].isin(touched)], changed], ignore_index=True))

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.ident is None:
            (self.directory / "mirror-id").write_text(uuid.uuid4().hex)
        for key, frame in self._frames.items():
            path = self._file(key)
            tmp = path.with_suffix(".tmp")
            frame.to_pickle(tmp)
            os.replace(tmp, path)  # a crash mid-write leaves the previous copy, never half a file

    def _file(self, key: str) -> Path:
        return self.directory / f"{key}.pkl"
