"""errors.reason: what a job's TaskErrMsg, a repository's ErrMsg or a BE task's error says of a failure, in the
operating system's or the storage client's words, never Python's class names."""

from __future__ import annotations

import errno

import pytest

from doris_br.errors import reason


@pytest.mark.parametrize("error, said", [
    (OSError(errno.ENOSPC, "No space left on device", "/repo/__ss_s1/x.part"),
     "No space left on device: '/repo/__ss_s1/x.part'"),
    (PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    (ValueError("bad header\nsecond line"), "bad header"),
    (TimeoutError(), "timed out"),
    (KeyError(), "failed unexpectedly; the log has the details"),
])
def test_a_failure_is_said_without_python_names(error: BaseException, said: str) -> None:
    assert reason(error) == said
    assert type(error).__name__ not in reason(error)
