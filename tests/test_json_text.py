"""json_text.loads: json.loads's result for any text, read a value at a time below the top levels, so a snapshot's
meta of 100,000 tablets is never one C call holding every thread (fe/jobs/restore.py, repository/store.py)."""

from __future__ import annotations

import json

import pytest

from doris_br import json_text

# A backup's meta: partitions four levels down, thousands of records inside them.
META = {"tables": {"t": {"table": {"id": 1}, "partitions": [
    {"id": p, "tablets": [{"id": i, "replicas": [{"id": i + 1, "backend_id": 3}]} for i in range(200)]}
    for p in range(30)]}}, "meta_version": 1}


@pytest.mark.parametrize("text", [
    json.dumps(META), json.dumps(META, indent=2), "{}", "[]", " [ 1 , [ ] , { } ] ", '"s\\u00e9\\""', "-1.5e3", "null",
    '{"a": {"b": {"c": {"d": {"e": [1, {"f": 2}]}}}}}', '{"a": 1, "a": 2}', "[[[[[[1]]]]]]",
    '\ufeff{"a": 1}'.encode(),
])
def test_loads_is_json_loads(text: str | bytes) -> None:
    assert json_text.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", "[1,]", '{"a" 1}', '{"a": 1,}', "[1 2]", '{"a": 1} x', "{a: 1}",
                                  '{"a": [1, 2}', "[", '["\\x"]', "nul"])
def test_a_malformed_text_is_json_loads_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        json_text.loads(text)


def test_no_value_handed_to_the_c_scanner_is_big(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pieces the C scanner reads are a partition at most, never the meta or a table."""
    lengths: list[int] = []

    class Counting:
        def scan_once(self, text: str, i: int) -> tuple[object, int]:
            value, end = json_text.json.JSONDecoder().scan_once(text, i)
            lengths.append(end - i)
            return value, end

    monkeypatch.setattr(json_text, "_DECODER", Counting())
    text = json.dumps(META)
    assert json_text.loads(text) == META
    assert len(lengths) > 30 and max(lengths) < len(text) / 20
