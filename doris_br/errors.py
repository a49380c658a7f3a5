"""Errors as MySQL clients see them: Doris's `errCode = 2, detailMessage = ...` with the right MySQL code."""

from __future__ import annotations

from mysql_mimic.errors import SQLSTATES, MysqlError

# MySQL error codes we send, and their SQLSTATEs as MySQL documents them.
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED = 1045
ER_NO_DB = 1046
ER_BAD_DB = 1049
ER_TABLE_EXISTS = 1050
ER_BAD_TABLE = 1051
ER_PARSE = 1064
ER_UNKNOWN = 1105
ER_NO_SUCH_TABLE = 1146
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_DB_CREATE_EXISTS = 1007
ER_DB_DROP_EXISTS = 1008
ER_QUERY_INTERRUPTED = 1317
ER_WRONG_VALUE_FOR_VAR = 1231
ER_UNKNOWN_TIME_ZONE = 1298
ER_WRONG_DB_NAME = 1102
ER_WRONG_TABLE_NAME = 1103
ER_WRONG_COLUMN_NAME = 1166
ER_WRONG_PARTITION_NAME = 1567
ER_WRONG_NAME_FORMAT = 5063
ERR_TABLE_NAME_LENGTH_LIMIT = 5089
ER_TABLEACCESS_DENIED = 1142
ER_DB_PRIV_DENIED = 1225  # Doris's ERR_DB_ACCESS_DENIED_ERROR: "... privilege(s) on database x ..."

SQLSTATES.update(
    {
        ER_DBACCESS_DENIED: b"42000",
        ER_ACCESS_DENIED: b"28000",
        ER_NO_DB: b"3D000",
        ER_BAD_DB: b"42000",
        ER_TABLE_EXISTS: b"42S01",
        ER_BAD_TABLE: b"42S02",
        ER_PARSE: b"42000",
        ER_NO_SUCH_TABLE: b"42S02",
        ER_SPECIFIC_ACCESS_DENIED: b"42000",
        ER_QUERY_INTERRUPTED: b"70100",
        ER_WRONG_VALUE_FOR_VAR: b"42000",
        ER_WRONG_DB_NAME: b"42000",
        ER_WRONG_TABLE_NAME: b"42000",
        ER_WRONG_COLUMN_NAME: b"42000",
        ER_WRONG_NAME_FORMAT: b"42000",
        ERR_TABLE_NAME_LENGTH_LIMIT: b"42000",
        ER_TABLEACCESS_DENIED: b"42000",
        ER_DB_PRIV_DENIED: b"42000",
    }
)


class DorisError(MysqlError):
    """An error a statement reports to the client, worded as Doris words it."""

    def __init__(self, message: str, code: int = ER_UNKNOWN) -> None:
        super().__init__(f"errCode = 2, detailMessage = {message}", code)  # type: ignore[arg-type]
        self.detail = message


def access_denied_need(*privileges: str) -> DorisError:
    names = " / ".join(p.removesuffix("_PRIV") for p in privileges)
    return DorisError(
        f"Access denied; you need (at least one of) the ({names}) privilege(s) for this operation",
        ER_SPECIFIC_ACCESS_DENIED,
    )


def unexpected() -> DorisError:
    """What a client is told when something failed that no check foresaw; the traceback goes to fe.log."""
    return DorisError("Unexpected exception: the statement failed inside the server; fe.log has the details")


def reason(error: BaseException) -> str:
    """What went wrong, for TaskErrMsg, a repository's ErrMsg or a job's status: the operating system's or the
    storage client's own words (`No space left on device: '/repo/x'`), first line only, never Python's class
    name, which would tell a client nothing and the engine's internals too much."""
    if isinstance(error, OSError) and error.strerror:
        where = f": '{error.filename}'" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).splitlines()[0].strip() if str(error).strip() else ""
    if text:
        return text
    if isinstance(error, TimeoutError):
        return "timed out"
    return "failed unexpectedly; the log has the details"
