"""The FE's metadata: frozen attrs objects, kept in memory and committed to the journal.

Each object class has a KIND (its journal folder) and a `key` (its file name). Changes are made by building
new objects (`attrs.evolve`) and committing them: the journal first, then the in-memory view, so what a
statement returns has always been made durable.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import attrs
import cattrs
import cattrs.gen

from doris_br.fe.journal import Delete, Journal, Put, dumps
from doris_br.repository.filesystems import StorageSpec

T = TypeVar("T")
# The one thread that runs commits off the event loop (Catalog.update_off_loop), in the order they were asked.
JOURNAL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")

# Doris's privileges; the order is the one SHOW GRANTS prints.
PRIVILEGES = (
    "NODE_PRIV",
    "ADMIN_PRIV",
    "GRANT_PRIV",
    "SELECT_PRIV",
    "LOAD_PRIV",
    "ALTER_PRIV",
    "CREATE_PRIV",
    "DROP_PRIV",
    "USAGE_PRIV",
    "SHOW_VIEW_PRIV",
)
GLOBAL_ONLY_PRIVILEGES = frozenset({"NODE_PRIV", "ADMIN_PRIV"})


@attrs.frozen
class Grant:
    """Privileges on one scope: `*.*`, `db.*` or `db.tbl`."""

    db: str = "*"
    table: str = "*"
    privileges: tuple[str, ...] = ()


@attrs.frozen
class User:
    KIND: ClassVar[str] = "users"
    name: str
    host: str = "%"
    # SHA1(SHA1(password)) in hex, what mysql_native_password verifies against; "" for no password.
    auth_string: str = ""
    grants: tuple[Grant, ...] = ()
    comment: str = ""
    # Random, new at each CREATE USER: a user dropped and created again under the same name is not the same
    # user to what was bound to the first one (the console's logins). "" for the built-in users.
    incarnation: str = ""
    # The roles granted to the user (GRANT 'r' TO u, CREATE USER ... DEFAULT ROLE 'r'), by name. `grants` are
    # what Doris keeps in the user's own default role.
    roles: tuple[str, ...] = ()
    # What those roles grant, filled in only on the user a statement acts as (Catalog.acting_user) so that
    # every privilege check counts them; never journaled: a role's grants live in the role.
    role_grants: tuple[Grant, ...] = attrs.field(default=(), eq=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.host}"

    @property
    def identity(self) -> str:
        return f"'{self.name}'@'{self.host}'"


@attrs.frozen
class Role:
    """A role made by CREATE ROLE: privileges granted TO ROLE, held by the users it is granted to."""

    KIND: ClassVar[str] = "roles"
    name: str
    comment: str = ""
    grants: tuple[Grant, ...] = ()

    @property
    def key(self) -> str:
        return self.name


# Doris's built-in roles: in code, never journaled, never dropped. root holds operator, admin holds admin.
BUILTIN_ROLES: dict[str, Role] = {
    "operator": Role("operator", grants=(Grant("*", "*", ("NODE_PRIV", "ADMIN_PRIV")),)),
    "admin": Role("admin", grants=(Grant("*", "*", ("ADMIN_PRIV",)),)),
}


def password_hash(password: str) -> str:
    """mysql_native_password's stored form, SHA1(SHA1(password)) in hex; "" for no password."""
    if not password:
        return ""
    return hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest()


@attrs.frozen
class Backend:
    KIND: ClassVar[str] = "backends"
    id: int
    host: str
    port: int
    # Each BE's storage root holds a uuid that identifies it whatever port it listens on.
    instance_id: str = ""
    added_time_ms: int = 0

    @property
    def key(self) -> str:
        return str(self.id)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


SECRET_MARKERS = ("secret", "password", "token", "passwd")
_SECRET_NAME = r"""["'`]?[\w.]*(?:secret|password|token|passwd)[\w.]*["'`]?"""


def _quoted(group: str) -> str:
    """A quoted value into `group` (its text without the quotes); one left open runs to the end."""
    return rf"""(?P<{group}_q>["'])(?P<{group}>(?:\\.|(?!(?P={group}_q)).)*)(?:(?P={group}_q)|\Z)"""


_SECRET_VALUE = re.compile(
    rf"""{_SECRET_NAME}\s*=\s*(?:{_quoted("quoted")}|(?P<bare>[^\s"'`,()=;]+))
         | (?:{_SECRET_NAME}|IDENTIFIED\s+BY(?:\s+PASSWORD)?|PASSWORD\s*\()\s*{_quoted("unnamed")}""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
SECRET_SHOWN = "*XXX"


def secret_spans(sql: str) -> list[tuple[int, int]]:
    """Where a statement holds secrets, whatever its shape (broken ones too: this also serves syntax errors):
    the value after a secret-looking property name (s3.secret_key, AWS_SECRET_KEY, password, ...; with or
    without `=`, quoted or not), after IDENTIFIED BY [PASSWORD] and inside PASSWORD(...). A string left open
    runs to the end of the statement."""
    lowered = sql.lower()
    if not any(marker in lowered for marker in (*SECRET_MARKERS, "identified")):
        return []  # the common case, and long INSERTs must not pay for the regular expression
    spans = []
    for match in _SECRET_VALUE.finditer(sql):
        group = next(g for g in ("quoted", "bare", "unnamed") if match.group(g) is not None)
        spans.append(match.span(group))
    return spans


def redact_slice(sql: str, start: int = 0, end: int | None = None) -> str:
    """sql[start:end] with every secret in it, whole or in part, shown as *XXX: the one place that decides
    what of a statement logs, SHOW PROCESSLIST and error messages may show."""
    end = len(sql) if end is None else end
    out, at = [], start
    for a, b in secret_spans(sql):
        if b <= at or a >= end or a == b:
            continue
        out += [sql[at:max(a, at)], SECRET_SHOWN]
        at = min(b, end)
    return "".join(out) + sql[at:end] if out else sql[start:end]


def redact_sql(sql: str) -> str:
    """A statement as logs and SHOW PROCESSLIST may show it: property secrets and passwords masked."""
    redacted = redact_slice(sql)
    return sql if redacted == sql else redacted


def redact_quoted(text: str, sql: str) -> str:
    """A message about `sql` that may quote it (a syntax error's near text, or the tokenizer's context, which
    may cut a secret in two): the slice of `sql` between its first and last quote redacted where it lies in
    `sql`, and any whole secret value of `sql` left elsewhere in it shown as *XXX."""
    spans = secret_spans(sql)
    if not spans:
        return text
    first, last = text.find("'"), text.rfind("'")
    piece = text[first + 1:last] if first < last else ""
    at = sql.find(piece) if piece else -1
    if at >= 0:
        text = text[:first + 1] + redact_slice(sql, at, at + len(piece)) + text[last:]
    for a, b in sorted(spans, key=lambda span: span[0] - span[1]):  # the longest first
        if b > a:
            text = text.replace(sql[a:b], SECRET_SHOWN)
    return text


def is_secret(property_name: str) -> bool:
    return any(m in property_name.lower() for m in SECRET_MARKERS)


def mask_secrets(properties: dict[str, str]) -> dict[str, str]:
    """Properties as SHOW and logs may print them: secrets become *XXX, as Doris prints them."""
    return {k: (SECRET_SHOWN if is_secret(k) else v) for k, v in properties.items()}


# The FE's own repository properties (fe/snapshots.py): never handed to a storage client, which may refuse them.
RETENTION_PROPERTIES = ("snapshot_keep_last", "snapshot_ttl")


@attrs.frozen
class Repository:
    KIND: ClassVar[str] = "repositories"
    id: int
    name: str
    kind: str  # S3 | HDFS | BROKER | LOCAL
    location: str
    properties: dict[str, str] = attrs.field(factory=dict)
    broker: str = ""
    read_only: bool = False
    create_time: str = ""  # yyyy-MM-dd HH:mm:ss, adopted from __repo_info when the location had one

    @property
    def key(self) -> str:
        return self.name

    @property
    def storage(self) -> StorageSpec:
        """What any process, FE or BE, needs to open the repository's storage."""
        return StorageSpec(kind=self.kind, location=self.location, properties={
            k: v for k, v in self.properties.items() if k not in RETENTION_PROPERTIES})


@attrs.frozen
class Broker:
    """A named broker. Ours are served in-process by fsspec; host:port is kept for SHOW BROKER."""

    KIND: ClassVar[str] = "brokers"
    name: str
    host: str
    port: int
    added_time_ms: int = 0

    @property
    def key(self) -> str:
        return f"{self.name}@{self.host}:{self.port}"


@attrs.frozen
class IdSequence:
    """The next free object id. Doris's ids are longs; ours start at 10000 as Doris's do."""

    KIND: ClassVar[str] = "sequences"
    name: str
    next_id: int = 10000

    @property
    def key(self) -> str:
        return self.name


KINDS: dict[str, type] = {cls.KIND: cls for cls in (User, Role, Backend, IdSequence, Repository, Broker)}


def register_kind(cls: type[T]) -> type[T]:
    """Later layers (tables, repositories, jobs) add their object classes here."""
    KINDS[cls.KIND] = cls  # type: ignore[attr-defined]
    return cls


converter = cattrs.Converter()
converter.register_unstructure_hook(
    User, cattrs.gen.make_dict_unstructure_fn(User, converter, role_grants=cattrs.gen.override(omit=True)))


def to_json(obj: Any) -> dict[str, Any]:
    return converter.unstructure(obj)


# Kinds whose objects are journaled as a small header row (under their KIND) and part rows under PARTS_KIND, keyed
# "<object key>/<part>": a job of 100,000 tablets commits its header and the parts a step changed, not megabytes.
# Such a class has `journal_parts(previous)`: its header (a copy of itself without the parts), its changed parts
# as (name, JSON) and the names of parts it no longer has; and `from_journal(header, parts)`.
PARTS_KIND = "job_parts"
SPLIT_KINDS: dict[str, type] = {}


def register_split_kind(cls: type[T]) -> type[T]:
    """A kind journaled as a header and parts (see SPLIT_KINDS)."""
    SPLIT_KINDS[cls.KIND] = register_kind(cls)  # type: ignore[attr-defined]
    return cls


def journal_rows(objects: Iterable[Any], previous: Callable[[Any], Any] = lambda o: None,
                 ) -> tuple[list[Put], list[Delete]]:
    """The journal's (kind, key, JSON text) rows of these objects, and the rows to delete with them: for a split
    kind, only the parts that differ from `previous(object)`, the version the journal holds."""
    puts: list[Put] = []
    deletes: list[Delete] = []
    for o in objects:
        if o.KIND not in SPLIT_KINDS:
            puts.append((o.KIND, o.key, dumps(to_json(o))))
            continue
        header, changed, gone = o.journal_parts(previous(o))
        puts.append((o.KIND, o.key, dumps(to_json(header))))
        # a part's JSON under "value": every journal row is a JSON object, as the metastore tools read them
        puts += [(PARTS_KIND, f"{o.key}/{name}", dumps({"value": body})) for name, body in changed]
        deletes += [(PARTS_KIND, f"{o.key}/{name}") for name in gone]
    return puts, deletes


def deleted_rows(objects: Iterable[Any]) -> list[Delete]:
    """The rows of objects deleted: a split kind's parts with it."""
    rows: list[Delete] = []
    for o in objects:
        rows.append((o.KIND, o.key))
        if o.KIND in SPLIT_KINDS:
            rows += [(PARTS_KIND, f"{o.key}/{name}") for name in o.journal_part_names()]
    return rows


def from_json(cls: type[T], body: dict[str, Any]) -> T:
    return converter.structure(body, cls)


@attrs.frozen
class Rows:
    """The journal rows of a commit's puts, made against the versions the journal held of them then (`against`):
    a split kind's rows are only its changed parts, right only if nothing was committed to it since."""

    puts: list[Put]
    deletes: list[Delete]
    objects: tuple[Any, ...]
    against: tuple[Any, ...]

    @classmethod
    def of(cls, objects: Iterable[Any], previous: Callable[[Any], Any]) -> Rows:
        objects = tuple(objects)
        before = tuple(previous(o) for o in objects)
        held = {id(o): b for o, b in zip(objects, before, strict=True)}
        puts, deletes = journal_rows(objects, lambda o: held[id(o)])
        return cls(puts, deletes, objects, before)

    def made_against(self, previous: Callable[[Any], Any]) -> bool:
        return all(previous(o) is b for o, b in zip(self.objects, self.against, strict=True))


class Catalog:
    """All metadata objects, by kind and key, backed by the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._objects: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        # Objects of kinds with an OWNER field (a table's database, a partition's table) by that owner's id and
        # their key: a database's tables and a table's partitions are found without a pass over them all.
        self._owned: dict[str, dict[int, dict[str, Any]]] = {}
        self._lock = threading.RLock()
        # Counts the commits made visible: what is worked out from the catalog (a user's acting privileges) can be
        # kept until it changes.
        self.generation = 0
        parts: dict[str, dict[str, Any]] = {}  # object key -> part name -> JSON
        headers: list[tuple[type, str, dict[str, Any]]] = []
        for kind, key, body in journal.rows():
            cls = KINDS.get(kind)
            if kind == PARTS_KIND:
                owner, _, name = key.partition("/")
                parts.setdefault(owner, {})[name] = body["value"]
            elif kind in SPLIT_KINDS:
                headers.append((SPLIT_KINDS[kind], key, body))
            elif cls is not None:
                self._objects[kind][key] = from_json(cls, body)
        for cls, key, body in headers:
            self._objects[cls.KIND][key] = cls.from_journal(body, parts.get(key, {}))  # type: ignore[attr-defined]
        for objects in self._objects.values():
            for obj in objects.values():
                self._own(obj)

    def all(self, cls: type[T]) -> list[T]:
        return list(self._objects.setdefault(cls.KIND, {}).values())  # type: ignore[attr-defined]

    def get(self, cls: type[T], key: str) -> T | None:
        return self._objects.setdefault(cls.KIND, {}).get(key)  # type: ignore[attr-defined]

    def owned(self, cls: type[T], owner_id: int) -> list[T]:
        """The objects of a kind with an OWNER field whose owner is `owner_id` (a database's tables)."""
        return list(self._owned.get(cls.KIND, {}).get(owner_id, {}).values())  # type: ignore[attr-defined]

    def _own(self, obj: Any) -> None:
        owner = getattr(type(obj), "OWNER", None)
        if owner is not None:
            self._owned.setdefault(obj.KIND, {}).setdefault(getattr(obj, owner), {})[obj.key] = obj

    def _disown(self, obj: Any) -> None:
        owner = getattr(type(obj), "OWNER", None)
        if owner is not None:
            bucket = self._owned.get(obj.KIND, {}).get(getattr(obj, owner), {})
            bucket.pop(obj.key, None)
            if not bucket:
                self._owned.get(obj.KIND, {}).pop(getattr(obj, owner), None)

    def role(self, name: str) -> Role | None:
        """A role by its exact name: a built-in one or one made by CREATE ROLE."""
        return BUILTIN_ROLES.get(name) or self.get(Role, name)

    def acting_user(self, user: User) -> User:
        """The user with what its roles grant, as every privilege check must see it (a role dropped since it
        was granted grants nothing)."""
        held = [role for role in map(self.role, user.roles) if role is not None]
        return attrs.evolve(user, role_grants=tuple(g for role in held for g in role.grants))

    def _previous(self, obj: Any) -> Any:
        """The version of `obj` the journal holds now (the in-memory one: commits write both under the lock)."""
        return self._objects.setdefault(obj.KIND, {}).get(obj.key)

    def commit(self, puts: Iterable[Any] = (), deletes: Iterable[Any] = (),
               rows: Rows | None = None) -> None:
        """Make the changes durable, then visible. `rows`: the puts' journal rows, already made (commit_together)."""
        puts, deletes = list(puts), list(deletes)
        with self._lock:
            if rows is None or not rows.made_against(self._previous):  # another commit came in between
                rows = Rows.of(puts, self._previous)
            self.journal.commit(rows.puts, rows.deletes + deleted_rows(deletes))
            for o in deletes:
                gone = self._objects.setdefault(o.KIND, {}).pop(o.key, None)
                if gone is not None:
                    self._disown(gone)
            for o in puts:
                kept = self._objects.setdefault(o.KIND, {})
                if o.key in kept:
                    self._disown(kept[o.key])
                kept[o.key] = o
                self._own(o)
            self.generation += 1

    async def commit_together(self, puts: Iterable[Any], deletes: Iterable[Any] = ()) -> None:
        """commit() of objects that must become visible at once (a restore's tables, partitions and job): their
        JSON, the slow part for a big job, is made in the journal thread; the journal write and the switch to the
        new objects happen on the event loop in one step, so no reader ever sees some of them and not others."""
        puts = list(puts)
        rows = await asyncio.get_running_loop().run_in_executor(JOURNAL_THREAD, Rows.of, puts, self._previous)
        self.commit(puts, deletes, rows=rows)

    async def commit_off_loop(self, puts: Iterable[Any], deletes: Iterable[Any] = ()) -> None:
        """commit() in the journal thread, JSON, write and all: for changes whose objects may become visible one
        after another (a new job, and the old ones it retires from the history)."""
        puts, deletes = list(puts), list(deletes)
        await asyncio.get_running_loop().run_in_executor(JOURNAL_THREAD, self.commit, puts, deletes)

    def update(self, cls: type[T], key: str, change: Callable[[T | None], T | None]) -> T | None:
        """Read-modify-write of one object: `change` gets the object as it is now (None: absent) and returns its
        new version, or None to leave it; that version is made durable, then visible. Under the catalog's lock,
        so no other commit comes between the read and the write (a CANCEL and a job's step both change a job)."""
        with self._lock:
            current = self.get(cls, key)
            new = change(current)
            if new is None:
                return current
            self.commit([new])
            return new

    async def update_off_loop(self, cls: type[T], key: str, change: Callable[[T | None], T | None]) -> T | None:
        """update() in the journal thread: a big object's JSON and the disk sync (a job of 10,000 tablets takes
        a fifth of a second) keep every session waiting if done on the event loop. One object only: its new
        version replaces the old one in a single step, so a reader on the loop sees one or the other, never a
        mix (a commit of several objects that must appear together stays on the loop: commit())."""
        return await asyncio.get_running_loop().run_in_executor(JOURNAL_THREAD, self.update, cls, key, change)

    def allocate_ids(self, count: int = 1) -> int:
        """Reserve `count` consecutive ids and return the first; the reservation is journaled."""
        return self.commit_numbered(count, lambda first: ())

    def commit_numbered(self, count: int, make: Callable[[int], Iterable[Any]], deletes: Iterable[Any] = ()) -> int:
        """Reserve `count` ids and commit what `make(first id)` gives (and `deletes`) in the same journal
        transaction (one disk sync, not two); returns the first id."""
        with self._lock:
            seq = self.get(IdSequence, "object_id") or IdSequence("object_id")
            self.commit([attrs.evolve(seq, next_id=seq.next_id + count), *make(seq.next_id)], deletes)
            return seq.next_id
