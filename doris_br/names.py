"""Doris's name rules (FeNameFormat, with enable_unicode_name_support = false), and the one gate every path built
from a name goes through.

The rules apply where a name is created (CREATE ..., RENAME, RESTORE ... AS, labels) or read from outside (a
repository's files): names already in the journal keep working whatever they look like. Separately, no name
from anywhere becomes a path unless `path_component` accepts it, so `..` or `/` in a snapshot's info, a
metadata backup or an old journal can never reach outside its folder.
"""

from __future__ import annotations

import re

import attrs

from doris_br.errors import (
    ER_UNKNOWN,
    ER_WRONG_COLUMN_NAME,
    ER_WRONG_DB_NAME,
    ER_WRONG_NAME_FORMAT,
    ER_WRONG_PARTITION_NAME,
    ER_WRONG_TABLE_NAME,
    ERR_TABLE_NAME_LENGTH_LIMIT,
    DorisError,
)


@attrs.frozen
class NameRule:
    """A Doris regex: `text` as Doris prints it in its errors, matched against the whole name."""

    text: str
    pattern: re.Pattern[str]

    def matches(self, name: str) -> bool:
        # fullmatch: Java's String.matches takes the whole string, where Python's `$` would allow a final "\n".
        return bool(name) and self.pattern.fullmatch(name) is not None


def _rule(text: str) -> NameRule:
    return NameRule(text, re.compile(text.removeprefix("^").removesuffix("$"), re.ASCII))


LABEL = _rule("^[-_A-Za-z0-9:]{1,128}$")
COMMON_NAME = _rule("^[a-zA-Z][a-zA-Z0-9-_]{0,63}$")  # databases, partitions, repositories
TABLE_NAME = _rule("^[a-zA-Z][a-zA-Z0-9-_]*$")
# Doris writes [a-zA-Z0-9.-_], which Java reads as the range '.'..'_' (so '/', ':' or '\' pass); newer Doris
# means, and tests, the three characters. We take the three.
USER_NAME = _rule("^[a-zA-Z][a-zA-Z0-9._-]*$")
COLUMN_NAME = _rule('^[_a-zA-Z@0-9\\s/][.a-zA-Z0-9_+-/?@#$%^&*"\\s,:]{0,255}$')
TABLE_NAME_LENGTH_LIMIT = 64  # FE config table_name_length_limit
FORBIDDEN_PARTITION_PREFIX = "placeholder_"
SHADOW_COLUMN_PREFIX = "__doris_shadow_"


def check_database_name(name: str) -> None:
    if not COMMON_NAME.matches(name):
        raise DorisError(f"Incorrect database name '{name}'", ER_WRONG_DB_NAME)


def check_table_name(name: str) -> None:
    """Tables and views."""
    if not TABLE_NAME.matches(name):
        raise DorisError(f"Incorrect table name '{name}'. Table name regex is '{TABLE_NAME.text}'",
                         ER_WRONG_TABLE_NAME)
    if len(name) > TABLE_NAME_LENGTH_LIMIT:
        raise DorisError(f"Table name length exceeds limit, the length of table name '{name}' is {len(name)} which "
                         f"is greater than the configuration 'table_name_length_limit' ({TABLE_NAME_LENGTH_LIMIT}).",
                         ERR_TABLE_NAME_LENGTH_LIMIT)


def check_partition_name(name: str) -> None:
    if not COMMON_NAME.matches(name) or name.startswith(FORBIDDEN_PARTITION_PREFIX):
        raise DorisError("Incorrect partition name", ER_WRONG_PARTITION_NAME)  # Doris names no name here


def check_column_name(name: str) -> None:
    if not COLUMN_NAME.matches(name) or name.startswith(SHADOW_COLUMN_PREFIX):
        raise DorisError(f"Incorrect column name '{name}'. Column regex is '{COLUMN_NAME.text}'",
                         ER_WRONG_COLUMN_NAME)


def is_label(label: str) -> bool:
    return LABEL.matches(label)


def check_label(label: str) -> None:
    """Load labels (INSERT WITH LABEL, Stream Load) and BACKUP / RESTORE snapshot labels."""
    if not is_label(label):
        raise DorisError(f"Label format error. regex: {LABEL.text}, label: {label}", ER_UNKNOWN)


def check_user_name(name: str) -> None:
    if not name:
        raise DorisError("Does not support anonymous user", ER_UNKNOWN)
    if not USER_NAME.matches(name):
        raise DorisError(f"invalid user name: {name}", ER_UNKNOWN)


# The prefix of the role Doris keeps for each user's own grants; no role of a user's may take it.
DEFAULT_ROLE_PREFIX = "default_role_rbac_"


def check_role_name(name: str, can_be_admin: bool, refusal: str) -> None:
    """Doris's FeNameFormat.checkRoleName: a common name, not a built-in role's (operator never, admin unless
    `can_be_admin`, either in any case) nor a user's default role's; `refusal` begins the built-in case's error."""
    if not COMMON_NAME.matches(name):
        raise DorisError(f"invalid role format: {name}", ER_UNKNOWN)
    builtin = name.lower() == "operator" or (not can_be_admin and name.lower() == "admin")
    if builtin or name.startswith(DEFAULT_ROLE_PREFIX):
        raise DorisError(f"{refusal}: {name}", ER_UNKNOWN)


def check_repository_name(name: str) -> None:
    if not COMMON_NAME.matches(name):
        raise DorisError(f"Incorrect repository name '{name}'", ER_WRONG_NAME_FORMAT)


# ---- paths ----------------------------------------------------------------------------------------------------


class UnsafeName(ValueError):
    """A name that would not stay one folder or file name inside its parent."""


def path_component(name: str) -> str:
    """`name` unchanged if it is one plain file or folder name (on a disk and in an object store's keys)."""
    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise UnsafeName(f"not a plain file name: {name!r}")
    return name


def path_id(value: object) -> int:
    """An id read from outside (a snapshot's info) that goes into a path: an int, nothing else."""
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise UnsafeName(f"not an id: {value!r}")
