"""Today on the run path: the same lists in process and fanned out, kept per day, stable on a re-sync."""

from __future__ import annotations

import pytest

from stepwise.engine.catalog import load_catalog
from stepwise.integration.files import FilesConnector
from stepwise.sample.company import write_company
from stepwise.store import Store, TodayLists
from stepwise.workers import fanout
from stepwise.workers.pipeline import run_pipeline

AS_OF = "2025-06-02"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("today")
    write_company(folder, as_of=AS_OF, accounts=60, seed=11)
    return folder


def ranks(recs):
    return {r.id: r.today_rank for r in recs if r.today_rank is not None}


def test_today_is_the_same_in_process_and_fanned_out(tmp_path, sample_dir):
    catalog = load_catalog()
    one = Store(f"sqlite:///{tmp_path / 'one.db'}")
    many = Store(f"sqlite:///{tmp_path / 'many.db'}")
    alone = run_pipeline(FilesConnector(sample_dir), catalog, AS_OF, store=one, write_back=False)
    # The workers' path: chunks scored from the store, the finish reading the run's cards back.
    run_id, chunks = fanout.plan_run(FilesConnector(sample_dir), f"files:{sample_dir}", AS_OF, many,
                                     write_back=False, chunk_size=60)
    assert chunks > 3
    for chunk in range(chunks):
        fanout.score_chunk(run_id, chunk, catalog, many)
    fanout.finish_run(run_id, None, many)

    listed = ranks(alone.recommendations)
    assert listed and len(listed) <= 15 * len({r.owner_id for r in alone.recommendations})
    assert ranks(many.recommendations_of_run(run_id)) == listed
    assert ranks(one.recommendations_of_run(alone.run_id)) == listed  # the stored payloads carry the rank
    assert sorted(TodayLists(one).lists("files", AS_OF), key=repr) == sorted(TodayLists(many).lists("files", AS_OF),
                                                                              key=repr)
    one.close()
    many.close()


def test_a_resync_the_same_day_keeps_the_lists_and_a_dismissal_leaves_its_list(tmp_path, sample_dir):
    catalog = load_catalog()
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    first = run_pipeline(FilesConnector(sample_dir, full=True), catalog, AS_OF, store=store, write_back=False)
    before = TodayLists(store).lists("files", AS_OF)
    again = run_pipeline(FilesConnector(sample_dir, full=True), catalog, AS_OF, store=store, write_back=False)
    assert TodayLists(store).lists("files", AS_OF) == before
    assert ranks(again.recommendations) == ranks(first.recommendations)

    top = min(before, key=lambda e: (e.owner_id, e.rank))
    store.record_feedback(top.rec_id, "dismissed", user="rep", reason="not_relevant")
    assert top.rec_id not in {r.id for r in TodayLists(store).of_owner(top.owner_id, AS_OF, None)}
    run_pipeline(FilesConnector(sample_dir, full=True), catalog, AS_OF, store=store, write_back=False)
    after = [e for e in TodayLists(store).lists("files", AS_OF) if e.owner_id == top.owner_id]
    assert top.card_key not in {e.card_key for e in after}
    store.close()
