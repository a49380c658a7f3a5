"""A restore's plan: what PENDING decided and COMMITTING swaps in, fixed once planned.

RESTORE (fe/statements/restore.py) submits a plan that holds only the replica count; PENDING replaces it with the
whole plan, made of the catalog's own objects (Database, Table, Partition, Tablet, View): the new objects are made
while planning, and COMMITTING puts them as they are. The plan is journaled as one part of its job (model.py) in the
shape older FEs wrote as a dict of JSON objects, so a job journaled by any FE reads back with plan_from_journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import cattrs

from doris_br.fe.catalog import converter
from doris_br.fe.olap import DEFAULT_REPLICATION, Database, Partition, Table, Tablet, View

if TYPE_CHECKING:
    from doris_br.fe.jobs.model import Job


@attrs.frozen
class ReplacedPartition:
    """A partition that exists: COMMITTING gives it these new tablets (with the restored files) in place of its own."""

    partition_id: int
    tablets: tuple[Tablet, ...]
    # A job planned before the flag was kept: count(*) scans, to be sure.
    has_delete_predicates: bool = True
    storage_medium: str | None = None  # None (a job planned before media were kept): the partition's own


@attrs.frozen
class RestorePlan:
    replication_num: int = DEFAULT_REPLICATION
    # The target database: new ones are created by COMMITTING (db_existed False); None until PENDING has planned.
    db: Database | None = None
    db_existed: bool = True
    new_tables: tuple[Table, ...] = ()
    new_partitions: tuple[Partition, ...] = ()  # of new tables, and new partitions of tables that exist
    replaced: tuple[ReplacedPartition, ...] = ()
    drop_tables: tuple[int, ...] = ()  # replaced by an atomic restore's copy, or left out with clean_tables
    drop_partitions: tuple[int, ...] = ()  # clean_partitions: those the snapshot does not have
    views: tuple[View, ...] = ()
    # Tables that exist and that the restore writes or drops: loads and DDL refuse them (JobManager.restore_of),
    # COMMITTING holds their locks and fails if one of them was dropped meanwhile.
    locked_tables: dict[int, str] = attrs.field(factory=dict)
    auto_increments: dict[int, int] = attrs.field(factory=dict)  # table id -> the counter's mark at commit

    @property
    def planned(self) -> bool:
        return self.db is not None


def plan_of(job: Job) -> RestorePlan:
    """A restore's plan: RESTORE submits one with the replica count, PENDING makes the rest."""
    return job.plan if job.plan is not None else RestorePlan()


# Journaled with ids as text keys, as the JSON of every other job field (and the journal's writer) has them.
_plan_json = cattrs.gen.make_dict_unstructure_fn(RestorePlan, converter)


def _unstructure(plan: RestorePlan) -> dict[str, Any]:
    body = _plan_json(plan)
    return {**body, "locked_tables": {str(k): v for k, v in plan.locked_tables.items()},
            "auto_increments": {str(k): v for k, v in plan.auto_increments.items()}}


converter.register_unstructure_hook(RestorePlan, _unstructure)


def plan_from_journal(job_type: str, body: dict[str, Any] | None) -> RestorePlan | None:
    """A job's plan as any FE journaled it. Older FEs kept the plan as a dict of JSON objects under the same names
    (made by catalog.to_json), so it reads as a RestorePlan as it is; their "progress" key (the finished BE tasks'
    counts, now Job.task_progress: from_journal moves it) is not part of it. A backup has no plan: older FEs gave
    it one for "progress" only."""
    if job_type != "RESTORE":
        return None
    return converter.structure({k: v for k, v in (body or {}).items() if k != "progress"}, RestorePlan)
