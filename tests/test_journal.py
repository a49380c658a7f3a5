"""The journal's JSON: big objects are written a slice at a time (journal.dumps) so other threads run in between,
and the text is exactly json.dumps's with sorted keys, which the metastore backups and older journals hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doris_br.fe.journal import Journal, dumps

BIG_JOB = {
    "tablets": [{"tablet_id": i, "files": [{"name": f"v{i}.parquet", "size": i * 7}], "done": i % 2 == 0}
                for i in range(3000)],
    "plan": {"progress": {str(i): [i, i, i * 10, i * 10] for i in range(700)}, "replication_num": 1},
    "label": "s\u00e9\"1", "info": None, "timeout_s": 86400.5,
}


@pytest.mark.parametrize("value", [BIG_JOB, BIG_JOB["tablets"], [], {}, list(range(1000)), {"a": []}, "x", 1, None])
def test_dumps_is_json_dumps_with_sorted_keys(value: object) -> None:
    assert dumps(value) == json.dumps(value, sort_keys=True)


def test_a_big_object_round_trips_through_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "meta.db")
    journal.commit([("jobs", "1", BIG_JOB), ("jobs", "2", dumps(BIG_JOB))])  # a dict, or its text made already
    rows = {key: body for _, key, body in journal.rows()}
    assert rows == {"1": BIG_JOB, "2": BIG_JOB}
    journal.close()
