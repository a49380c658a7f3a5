"""The journal's JSON: big objects are written a slice at a time (journal.dumps) so other threads run in between,
and the text is exactly json.dumps's with sorted keys, which the metastore backups and older journals hold."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from doris_br import json_text, rpc
from doris_br.fe.catalog import Catalog, to_json
from doris_br.fe.jobs.model import Job, TabletPlan, TaskFailure
from doris_br.fe.jobs.plans import ReplacedPartition, RestorePlan, plan_from_journal
from doris_br.fe.journal import Journal, dumps
from doris_br.fe.olap import Database, Partition, Replica, Table, Tablet, View
from doris_br.repository.snapshot_info import SnapshotInfo
from doris_br.schema import Column, DistributionSpec

BIG_JOB = {
    "tablets": [{"tablet_id": i, "files": [{"name": f"v{i}.parquet", "size": i * 7}], "done": i % 2 == 0}
                for i in range(3000)],
    "plan": {"progress": {str(i): [i, i, i * 10, i * 10] for i in range(700)}, "replication_num": 1},
    "label": "s\u00e9\"1", "info": None, "timeout_s": 86400.5,
}
# A backup's meta: nothing long at its top, thousands of records deep inside.
DEEP_META = {"tables": {"t": {"partitions": [
    {"id": p, "tablets": [{"id": i, "replicas": [{"id": i + 1, "backend_id": 3}]} for i in range(100)]}
    for p in range(40)]}}, "meta_version": 1}


@pytest.mark.parametrize("value", [BIG_JOB, BIG_JOB["tablets"], DEEP_META, [], {}, list(range(1000)), {"a": []},
                                   [[i] for i in range(3000)], [list(range(3000))], "x", 1, None])
def test_dumps_is_json_dumps_with_sorted_keys(value: object) -> None:
    assert dumps(value) == json.dumps(value, sort_keys=True)


def test_dumps_hands_json_only_small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """However deep the big part of a value is, no single json.dumps call (which holds every thread) gets it."""
    sizes: list[int] = []
    real = json.dumps

    def counting(value: object, **kwargs: object) -> str:
        sizes.append(json_text._size(value))
        return real(value, **kwargs)

    monkeypatch.setattr(json_text.json, "dumps", counting)
    for value in (BIG_JOB, DEEP_META, [list(range(3000))]):
        sizes.clear()
        dumps(value)
        assert len(sizes) > 1 and max(sizes) <= json_text._PIECE + 1


def test_a_big_object_round_trips_through_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "meta.db")
    journal.commit([("jobs", "1", BIG_JOB), ("jobs", "2", dumps(BIG_JOB))])  # a dict, or its text made already
    rows = {key: body for _, key, body in journal.rows()}
    assert rows == {"1": BIG_JOB, "2": BIG_JOB}
    journal.close()


class _CountingJournal(Journal):
    """The real journal, remembering the rows each commit wrote."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written: list[list[tuple[str, str]]] = []

    def commit(self, puts=(), deletes=()):  # type: ignore[no-untyped-def]
        puts, deletes = list(puts), list(deletes)
        self.written.append([(kind, key) for kind, key, _ in puts] + [("-" + kind, key) for kind, key in deletes])
        super().commit(puts, deletes)


def _job(tablets: int) -> Job:
    plans = tuple(TabletPlan(tablet_id=i, table="t", table_id=1, partition="p", partition_id=2, index_id=3,
                             version=2, backend_id=10 + i % 3, files=(rpc.SnapshotFile(f"{i}.dat", i),))
                  for i in range(tablets))
    return Job(id=7, type="BACKUP", label="l", db_id=1, db_name="d", repo="r", tablets=plans,
               meta={"tables": {"t": {"partitions": list(range(50))}}})


def test_a_job_step_commits_its_header_and_the_tablets_it_changed(tmp_path: Path) -> None:
    journal = _CountingJournal(tmp_path / "meta.db")
    catalog = Catalog(journal)
    job = _job(2500)
    catalog.commit([job])
    assert sorted(journal.written[-1]) == sorted([("jobs", "7"), ("job_parts", "7/meta")] + [
        ("job_parts", f"7/tablets.{i:06d}") for i in range(3)])
    # One tablet of the second slice done, the state moved on: the header and that slice only.
    tablets = list(job.tablets)
    tablets[1500] = attrs.evolve(tablets[1500], done=True)
    stepped = attrs.evolve(job, state="UPLOADING", tablets=tuple(tablets), task_errors={"1": TaskFailure(None, "x")})
    catalog.commit([stepped])
    assert journal.written[-1] == [("jobs", "7"), ("job_parts", "7/tablets.000001")]
    # Fewer tablets and no meta: the parts that are gone are deleted.
    shrunk = attrs.evolve(stepped, tablets=stepped.tablets[:900], meta={})
    catalog.commit([shrunk])
    assert sorted(journal.written[-1]) == sorted([("jobs", "7"), ("job_parts", "7/tablets.000000"), (
        "-job_parts", "7/tablets.000001"), ("-job_parts", "7/tablets.000002"), ("-job_parts", "7/meta")])
    reread = Catalog(Journal(tmp_path / "meta.db")).get(Job, "7")
    assert reread == shrunk
    catalog.commit(deletes=[shrunk])  # a retired job takes its parts with it
    assert not list(Journal(tmp_path / "meta.db").rows())


def test_a_job_reads_back_whole_after_many_steps(tmp_path: Path) -> None:
    catalog = Catalog(Journal(tmp_path / "meta.db"))
    job = _job(3001)
    catalog.commit([job])
    for i in range(0, 3001, 700):
        tablets = list(job.tablets)
        tablets[i] = attrs.evolve(tablets[i], done=True, stored=(rpc.StoredFile(f"{i}.dat.ab", i, "ab"),))
        job = attrs.evolve(job, tablets=tuple(tablets), task_progress={str(i): [1, 1, i, i]},
                           info=SnapshotInfo("s", "db", 1, i, "ALL", tables={}))
        catalog.commit([job])
    assert Catalog(Journal(tmp_path / "meta.db")).get(Job, "7") == job


def test_a_job_journaled_whole_by_an_older_fe_reads_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "meta.db")
    job = _job(1200)
    old = {**to_json(job), "plan": {"progress": {"5": [1, 2, 3, 4]}}}  # as older FEs kept a backup's progress
    old.pop("task_progress")
    journal.commit([("jobs", "7", old)])
    reread = Catalog(journal).get(Job, "7")
    assert reread is not None and reread.tablets == job.tablets and reread.task_progress == {"5": [1, 2, 3, 4]}


def _restore_plan() -> RestorePlan:
    tablets = (Tablet(41, (Replica(42, 10), Replica(43, 11)), row_count=5, data_size=70),)
    part = Partition(id=40, table_id=30, name="p1", tablets=tablets, lower=("1",), upper=("10",), visible_version=3)
    table = Table(id=30, db_id=20, name="t", columns=(Column("k", "INT", is_key=True),), keys_type="DUP_KEYS",
                  key_columns=("k",), distribution=DistributionSpec("HASH", ("k",), 1), partition_kind="RANGE",
                  partition_columns=("k",), index_id=31)
    return RestorePlan(
        replication_num=2, db=Database(20, "d"), db_existed=False, new_tables=(table,), new_partitions=(part,),
        replaced=(ReplacedPartition(50, tablets, False, "SSD"),), drop_tables=(60,), drop_partitions=(61, 62),
        views=(View(70, 20, "v", "SELECT 1"),), locked_tables={60: "old", 30: "t"}, auto_increments={30: 1000})


def test_a_restore_plan_round_trips_through_the_journal(tmp_path: Path) -> None:
    catalog = Catalog(Journal(tmp_path / "meta.db"))
    job = Job(id=8, type="RESTORE", label="l", db_id=20, db_name="d", repo="r", plan=_restore_plan())
    catalog.commit([job])
    reread = Catalog(Journal(tmp_path / "meta.db")).get(Job, "8")
    assert reread == job and reread is not None and reread.plan == _restore_plan()


def _old_plan(plan: RestorePlan) -> dict[str, object]:
    """The plan as FEs before RestorePlan journaled it: a dict of the objects' JSON, ids as text keys."""
    return {"db": to_json(plan.db), "db_existed": plan.db_existed, "replication_num": plan.replication_num,
            "new_tables": [to_json(t) for t in plan.new_tables],
            "new_partitions": [to_json(p) for p in plan.new_partitions],
            "replaced": [{"partition_id": r.partition_id, "tablets": [to_json(t) for t in r.tablets],
                          "has_delete_predicates": r.has_delete_predicates, "storage_medium": r.storage_medium}
                         for r in plan.replaced],
            "drop_tables": list(plan.drop_tables), "drop_partitions": list(plan.drop_partitions),
            "views": [to_json(v) for v in plan.views],
            "locked_tables": {str(k): v for k, v in plan.locked_tables.items()},
            "auto_increments": {str(k): v for k, v in plan.auto_increments.items()},
            "progress": {"9": [1, 1, 5, 5]}}


def test_an_older_fes_restore_plan_reads_back(tmp_path: Path) -> None:
    """A plan journaled as a dict: as its own part, as a header's field (journaled whole), and one from before
    the replaced partitions kept their flags, or before planning (the replica count only); its "progress" is the
    job's task_progress."""
    plan = _restore_plan()
    assert plan_from_journal("RESTORE", _old_plan(plan)) == plan
    assert plan_from_journal("BACKUP", {"progress": {}}) is None
    assert plan_from_journal("RESTORE", {"replication_num": 1}) == RestorePlan(replication_num=1)
    early = _old_plan(plan)
    early["replaced"] = [{"partition_id": 50, "tablets": [to_json(t) for t in plan.replaced[0].tablets]}]
    assert plan_from_journal("RESTORE", early).replaced == (  # type: ignore[union-attr]
        ReplacedPartition(50, plan.replaced[0].tablets, has_delete_predicates=True, storage_medium=None),)
    journal = Journal(tmp_path / "meta.db")
    job = Job(id=9, type="RESTORE", label="l", db_id=20, db_name="d", repo="r")
    header = to_json(job)
    header.pop("task_progress")
    journal.commit([("jobs", "9", {**header, "plan": {}}), ("job_parts", "9/plan", {"value": _old_plan(plan)}),
                    ("jobs", "10", {**header, "id": 10, "plan": _old_plan(plan)})])
    catalog = Catalog(journal)
    for key in ("9", "10"):
        reread = catalog.get(Job, key)
        assert reread is not None and reread.plan == plan and reread.task_progress == {"9": [1, 1, 5, 5]}


OLD_ERRORS = {"5": "BAD_FILE: md5sum does not equal: v2.parquet (attempt 3 failed; retrying in 4s)",
              "6": "NOT_FOUND: tablet 6 does not exist on this backend", "7": "BAD_CONNECTION: Flight: unreachable",
              "info": "Read timeout on endpoint URL", "8": "uploaded files do not match the snapshot; uploading again",
              "cleanup": "the partial snapshot could not be removed: FOO: bar"}


def test_task_failures_journal_as_values_and_older_fes_text_reads_back(tmp_path: Path) -> None:
    """TaskErrMsg's text is the same from the values as from the text older FEs journaled; a code is a value."""
    failures = {key: TaskFailure.from_text(text) for key, text in OLD_ERRORS.items()}
    assert {key: f.text() for key, f in failures.items()} == OLD_ERRORS
    assert failures["5"] == TaskFailure(rpc.StatusCode.BAD_FILE, "md5sum does not equal: v2.parquet", 3, 4.0)
    assert failures["info"].code is None and failures["cleanup"].code is None
    journal = Journal(tmp_path / "meta.db")
    header = to_json(Job(id=11, type="BACKUP", label="l", db_id=1, db_name="d", repo="r", state="UPLOADING"))
    journal.commit([("jobs", "11", {**header, "task_errors": OLD_ERRORS, "status_code": "OK"})])
    catalog = Catalog(journal)
    job = catalog.get(Job, "11")
    assert job is not None and job.task_errors == failures and job.status_code is rpc.StatusCode.OK
    catalog.commit([attrs.evolve(job, status_code=rpc.StatusCode.TIMEOUT)])
    again = Catalog(Journal(tmp_path / "meta.db")).get(Job, "11")
    assert again is not None and again.task_errors == failures and again.status_code is rpc.StatusCode.TIMEOUT


def test_a_tables_partitions_are_found_by_its_id_through_every_change(tmp_path: Path) -> None:
    """Catalog.owned: a table's partitions kept by its id as commits put, replace, move and delete them, and as
    the journal reads back (partitions_of and find_table no longer pass over every object)."""
    catalog = Catalog(Journal(tmp_path / "meta.db"))
    parts = [Partition(id=100 + i, table_id=1 if i < 3 else 2, name=f"p{i}", tablets=()) for i in range(5)]
    catalog.commit(parts)
    assert sorted(p.name for p in catalog.owned(Partition, 1)) == ["p0", "p1", "p2"]
    moved = attrs.evolve(parts[0], table_id=2, visible_version=5)
    catalog.commit([moved, attrs.evolve(parts[1], visible_version=7)], deletes=[parts[2]])
    assert sorted((p.name, p.visible_version) for p in catalog.owned(Partition, 1)) == [("p1", 7)]
    assert sorted(p.name for p in catalog.owned(Partition, 2)) == ["p0", "p3", "p4"]
    reread = Catalog(Journal(tmp_path / "meta.db"))
    assert sorted(p.name for p in reread.owned(Partition, 2)) == ["p0", "p3", "p4"]
    assert reread.owned(Partition, 1) == [attrs.evolve(parts[1], visible_version=7)]
    assert reread.owned(Partition, 3) == [] and catalog.owned(Table, 1) == []
