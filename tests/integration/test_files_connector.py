"""The CSV folder contract: clear errors for a broken file, skipped rows with reasons, optional tables optional."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from stepwise.engine.records import MissingColumnError, MissingTableError
from stepwise.integration.base import ConnectorError
from stepwise.integration.files import FilesConnector
from stepwise.integration.sources import connector_for


def write(folder, name: str, text: str) -> None:
    (folder / f"{name}.csv").write_text(text.strip() + "\n")


@pytest.fixture()
def folder(tmp_path):
    write(tmp_path, "accounts", """
account_id,name,industry,segment,extra_column
A1,Alfa Distribution SRL,healthcare,mid_market,ignored
A2,Beta Labs,software,enterprise,ignored
""")
    return tmp_path


def test_a_minimal_folder_reads_with_only_accounts(folder):
    data = FilesConnector(folder).pull().data
    assert list(data.accounts["account_id"]) == ["A1", "A2"]
    assert "extra_column" not in data.accounts.columns
    assert data.present() == {"accounts"}
    assert data.deals is None and data.table("deals").empty


def test_missing_required_column_names_file_and_column(folder):
    write(folder, "deals", "deal_id,account_id,amount\nD1,A1,100")
    with pytest.raises(MissingColumnError) as err:
        FilesConnector(folder).pull()
    assert str(err.value) == f"{folder / 'deals.csv'}: required column 'stage' is missing"


def test_bad_rows_are_skipped_with_file_row_and_reason_and_the_rest_goes_through(folder, caplog):
    write(folder, "deals", """
deal_id,account_id,stage,amount,created_at
D1,A1,discovery,1000,2026-10-01
D2,A1,discovery,lots,2026-10-01
D3,A1,signed,1000,2026-10-01
D4,A1,proposal,1000,yesterday
D1,A2,proposal,500,2026-10-02
D5,A9,proposal,500,2026-10-02
D6,A2,Negotiation,2500,2026-10-03T09:30:00Z
""")
    with caplog.at_level(logging.WARNING):
        data = FilesConnector(folder).pull().data
    assert list(data.deals["deal_id"]) == ["D1", "D6"]
    assert data.deals.loc[1, "stage"] == "negotiation"
    reasons = {issue.row_id: issue.reason for issue in data.skipped}
    assert reasons == {
        "D2": "amount 'lots' is not a number",
        "D3": "stage 'signed' is not one of prospecting/discovery/proposal/negotiation/closed_won/closed_lost",
        "D4": "created_at 'yesterday' is not a date",
        "D1": "duplicate deal_id",
    }
    text = caplog.text
    assert "deals.csv: row D2 skipped: amount 'lots' is not a number" in text
    assert "deals.csv: row D5 skipped: account_id A9 is not in accounts.csv" in text


def test_required_values_may_not_be_blank(folder):
    write(folder, "orders", "order_id,account_id,ordered_at\nO1,A1,\nO2,A1,2026-01-05\n,A1,2026-01-06")
    data = FilesConnector(folder).pull().data
    assert list(data.orders["order_id"]) == ["O2"]
    assert {(i.row_id, i.reason) for i in data.skipped} == {("O1", "ordered_at is empty"), ("line 4", "order_id is empty")}


def test_no_accounts_and_no_leads_is_a_clear_error(tmp_path):
    write(tmp_path, "products", "product_id\nP1")
    with pytest.raises(MissingTableError, match="accounts.csv is required"):
        FilesConnector(tmp_path).pull()


def test_a_leads_only_source_is_fine(tmp_path):
    write(tmp_path, "leads", "lead_id,created_at,status\nL1,2026-11-01,new")
    assert list(FilesConnector(tmp_path).pull().data.leads["lead_id"]) == ["L1"]


def test_unreadable_or_missing_folder_and_unknown_source(tmp_path):
    with pytest.raises(ConnectorError, match="no such folder"):
        FilesConnector(tmp_path / "nope").pull()
    (tmp_path / "accounts.csv").write_text("")
    with pytest.raises(ConnectorError, match="is empty"):
        FilesConnector(tmp_path).pull()
    with pytest.raises(ConnectorError, match="unknown source 'ftp'"):
        connector_for("ftp:somewhere")


def test_cli_turns_a_broken_file_into_one_line_and_exit_2(folder):
    write(folder, "deals", "deal_id,amount\nD1,100")
    run = subprocess.run([sys.executable, "-m", "stepwise.cli", "score", "--source", f"files:{folder}",
                          "--as-of", "2026-11-23", "--format", "json"], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.strip() == f"error: {folder / 'deals.csv'}: required column 'account_id' is missing"
    assert "Traceback" not in run.stderr


def test_the_files_source_declares_no_capability_and_its_pull_keeps_nothing(folder):
    connector = connector_for(f"files:{folder}", full=True)
    pulled = connector.pull({"anything": "1"})
    assert connector.capabilities == frozenset()
    assert pulled.cursors == {} and pulled.deleted == {} and pulled.feedback == []
    assert pulled.report is connector.last_sync and pulled.report.rows == {"accounts": 2}
    assert connector.push([]).written == 0 and connector.check() == []
