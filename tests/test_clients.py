"""The client matrix: the drivers, ORMs and tools people point at Doris, each used as its users use it, and each
taking one database through BACKUP, SHOW BACKUP, SHOW SNAPSHOT, a lost table, RESTORE and a read of the restored
rows. ./run.sh test installs them all (pyproject's test extra, Debian's mycli and libmysqlclient, `npm ci` in
tests/node)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import asyncmy
import mysql.connector
import MySQLdb
import MySQLdb.constants.CLIENT
import pandas as pd
import pytest
import sqlalchemy as sa
from asyncmy.constants import CLIENT as ASYNCMY_CLIENT
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from tests.backup_helpers import create_local_repo
from tests.cluster import Cluster

REPO = "clients_repo"
ROWS = [(1, "one"), (2, "two"), (3, "three")]
NODE = Path(__file__).parent / "node"


class Runner(Protocol):
    """One client's way of running a statement: the rows of its (last) result, [] for an OK packet."""

    def __call__(self, sql: str) -> list[tuple]: ...


@pytest.fixture(scope="module")
def repo(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> str:
    create_local_repo(cluster, REPO, tmp_path_factory.mktemp("clients_repo"))
    return REPO


def fresh_db(cluster: Cluster, db: str) -> str:
    cluster.query(f"DROP DATABASE IF EXISTS {db} FORCE")
    cluster.query(f"CREATE DATABASE {db}")
    return db


def as_text(rows: list[tuple]) -> list[tuple[str, ...]]:
    """Rows as text: Node and mycli hand back strings, the Python drivers ints."""
    return [tuple(str(v) for v in row) for row in rows]


def poll(run: Runner, sql: str, column: int, timeout: float = 60.0) -> tuple:
    """The last row of `sql` once its `column` is FINISHED or CANCELLED."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = run(sql)
        if rows and rows[-1][column] in ("FINISHED", "CANCELLED"):
            return rows[-1]
        time.sleep(0.3)
    raise AssertionError(f"{sql}: still {rows[-1] if rows else 'nothing'} after {timeout}s")


def backup_lose_restore_read(run: Runner, db: str, table: str = "t", create: bool = True) -> None:
    """What every client in the matrix does once, with nothing but its own statements."""
    if create:
        run(f"CREATE TABLE {db}.{table} (k INT, v VARCHAR(16)) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
            "PROPERTIES ('replication_num' = '1')")
        run(f"INSERT INTO {db}.{table} VALUES " + ", ".join(f"({k}, '{v}')" for k, v in ROWS))
    label = f"{db}_snap"  # snapshot names are the repository's, shared by the matrix
    run(f"BACKUP SNAPSHOT {db}.{label} TO {REPO} ON ({table})")
    backup = poll(run, f"SHOW BACKUP FROM {db} WHERE SnapshotName = '{label}'", column=3)
    assert backup[1:4] == (label, db, "FINISHED"), backup
    snapshots = run(f"SHOW SNAPSHOT ON {REPO} WHERE SNAPSHOT = '{label}'")
    assert len(snapshots) == 1 and snapshots[0][2] == "OK", snapshots
    run(f"DROP TABLE {db}.{table} FORCE")
    run(f"RESTORE SNAPSHOT {db}.{label} FROM {REPO} ON ({table}) "
        f"PROPERTIES ('backup_timestamp' = '{snapshots[0][1]}', 'replication_num' = '1')")
    restore = poll(run, f"SHOW RESTORE FROM {db} WHERE Label = '{label}'", column=4)
    assert restore[4] == "FINISHED", restore
    assert as_text(run(f"SELECT k, v FROM {db}.{table} ORDER BY k")) == as_text(ROWS)


# --- SQLAlchemy: pydoris and sqlalchemy-doris ------------------------------------------------------------------

def sqlalchemy_runner(engine: sa.Engine) -> Runner:
    def run(sql: str) -> list[tuple]:
        with engine.connect() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
    return run


class Base(DeclarativeBase):
    pass


class Order(Base):
    """An ORM model as a pydoris user writes one: Doris's key model and distribution as dialect options."""

    __tablename__ = "orders"
    __table_args__ = {"pydoris_key_type": "UNIQUE", "pydoris_distributed_by": "HASH(id)", "pydoris_buckets": 1,
                      "pydoris_properties": {"replication_num": "1"}}
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    item: Mapped[str] = mapped_column(sa.String(32))


@pytest.fixture
def pydoris_engine(cluster: Cluster) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"pydoris://root:@127.0.0.1:{cluster.port}/{fresh_db(cluster, 'c_pydoris')}")
    yield engine
    engine.dispose()


def test_pydoris_reflection_orm_pandas_and_backup(cluster: Cluster, repo: str, pydoris_engine: sa.Engine) -> None:
    db = "c_pydoris"
    Base.metadata.create_all(pydoris_engine)  # has_table on information_schema, then CREATE TABLE
    Base.metadata.create_all(pydoris_engine)  # the second time has_table says it is there
    with Session(pydoris_engine) as orm:
        orm.add_all([Order(id=1, item="tea"), Order(id=2, item="milk")])
        orm.commit()
        assert [o.item for o in orm.scalars(sa.select(Order).where(Order.id >= 1).order_by(Order.id))] == \
            ["tea", "milk"]
    inspector = sa.inspect(pydoris_engine)
    assert inspector.get_table_names(schema=db) == ["orders"]
    assert [c["name"] for c in inspector.get_columns("orders", schema=db)] == ["id", "item"]
    # Core with a schema: every column is written db.table.col.
    orders = sa.Table("orders", sa.MetaData(), autoload_with=pydoris_engine, schema=db)
    with pydoris_engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.item).where(orders.c.id == 2)).scalar_one() == "milk"
    frame = pd.DataFrame({"k": [1, 2, 3], "v": ["one", "two", "three"]})
    frame.to_sql("t", pydoris_engine, schema=db, index=False, if_exists="append")
    read = pd.read_sql(f"SELECT k, v FROM {db}.t ORDER BY k", pydoris_engine)
    assert read.to_dict("list") == frame.to_dict("list")
    backup_lose_restore_read(sqlalchemy_runner(pydoris_engine), db, create=False)


def test_sqlalchemy_doris_has_table_create_all_and_backup(cluster: Cluster, repo: str) -> None:
    from sqlalchemy_doris import HASH

    db = fresh_db(cluster, "c_sa_doris")
    engine = sa.create_engine(f"doris+pymysql://root:@127.0.0.1:{cluster.port}/{db}")
    try:
        metadata = sa.MetaData()
        made = sa.Table("made", metadata, sa.Column("k", sa.Integer), sa.Column("v", sa.String(16)),
                        doris_unique_key="k", doris_distributed_by=HASH("k", buckets=1),
                        doris_properties={"replication_num": "1"})
        with engine.connect() as conn:  # has_table runs DESCRIBE and reads Doris's "Unknown table" as absent
            assert not engine.dialect.has_table(conn, "made", schema=db)
        metadata.create_all(engine)
        with engine.connect() as conn:
            assert engine.dialect.has_table(conn, "made", schema=db)
            conn.execute(made.insert(), [{"k": k, "v": v} for k, v in ROWS])
            assert conn.execute(sa.select(made.c.v).where(made.c.k == 3)).scalar_one() == "three"
        assert {c["name"] for c in sa.inspect(engine).get_columns("made", schema=db)} == {"k", "v"}
        backup_lose_restore_read(sqlalchemy_runner(engine), db, table="made", create=False)
    finally:
        engine.dispose()


# --- DB-API drivers ----------------------------------------------------------------------------------------------

def test_mysql_connector_prepared_cursor(cluster: Cluster, repo: str) -> None:
    db = fresh_db(cluster, "c_connector")
    conn = mysql.connector.connect(host="127.0.0.1", port=cluster.port, user="root", password="", database=db)
    try:
        def run(sql: str) -> list[tuple]:
            # SELECT and SHOW go through COM_STMT_PREPARE / EXECUTE, as its prepared cursor sends them.
            cur = conn.cursor(prepared=sql.startswith(("SELECT", "SHOW")))
            cur.execute(sql)
            rows = [tuple(r) for r in cur.fetchall()] if cur.with_rows else []
            cur.close()
            return rows

        backup_lose_restore_read(run, db)
        cur = conn.cursor(prepared=True)
        cur.execute(f"SELECT v FROM {db}.t WHERE k = %s", (2,))
        assert cur.fetchall() == [("two",)]
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == [("t",)]
    finally:
        conn.close()


def test_mysqlclient_parameters_and_multi_statements(cluster: Cluster, repo: str) -> None:
    db = fresh_db(cluster, "c_mysqlclient")
    conn = MySQLdb.connect(host="127.0.0.1", port=cluster.port, user="root", passwd="", db=db,
                           client_flag=MySQLdb.constants.CLIENT.MULTI_STATEMENTS, autocommit=True)
    try:
        def run(sql: str) -> list[tuple]:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())

        backup_lose_restore_read(run, db)
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM t WHERE k = %s OR v = %s ORDER BY k", (1, "three"))
            assert cur.fetchall() == (("one",), ("three",))
            assert cur.execute("INSERT INTO t VALUES (4, 'four'); SELECT count(*) FROM t") == 1
            assert cur.nextset() and cur.fetchall() == ((4,),)
            assert not cur.nextset()
    finally:
        conn.close()


def test_asyncmy_parameters_and_multi_statements(cluster: Cluster, repo: str) -> None:
    db = fresh_db(cluster, "c_asyncmy")
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncmy.connect(host="127.0.0.1", port=cluster.port, user="root", password="",
                                                   database=db, autocommit=True,
                                                   client_flag=ASYNCMY_CLIENT.MULTI_STATEMENTS))
    try:
        async def fetch(sql: str, args: tuple | None = None) -> list[tuple]:
            async with conn.cursor() as cur:
                await cur.execute(sql, args)
                return list(await cur.fetchall() or [])

        def run(sql: str) -> list[tuple]:
            return loop.run_until_complete(fetch(sql))

        backup_lose_restore_read(run, db)

        async def both() -> list[list[tuple]]:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1 AS a; SELECT v FROM t WHERE k = 3")
                sets = [list(await cur.fetchall())]
                while await cur.nextset():
                    sets.append(list(await cur.fetchall()))
                return sets

        assert loop.run_until_complete(both()) == [[(1,)], [("three",)]]
        assert loop.run_until_complete(fetch("SELECT k FROM t WHERE v = %s", ("two",))) == [(2,)]
    finally:
        conn.close()
        loop.close()


# --- Node's mysql2 -----------------------------------------------------------------------------------------------

class NodeClient:
    """tests/node/client.js in a child process: one JSON request and one JSON answer a line."""

    def __init__(self, port: int, db: str) -> None:
        self.process = subprocess.Popen(["node", str(NODE / "client.js"), str(port), db], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, cwd=NODE)

    def request(self, sql: str, params: list | None = None, mode: str = "query") -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"sql": sql, "params": params or [], "mode": mode}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "client.js ended"
        return json.loads(line)

    def __call__(self, sql: str) -> list[tuple]:
        answer = self.request(sql)
        assert "error" not in answer, answer
        last = answer["results"][-1]
        return [tuple(r) for r in last] if isinstance(last, list) else []

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def node_client(cluster: Cluster) -> Iterator[NodeClient]:
    if not (NODE / "node_modules" / "mysql2").is_dir():
        pytest.fail("tests/node has no node_modules: ./run.sh test runs `npm ci` there")
    client = NodeClient(cluster.port, fresh_db(cluster, "c_node"))
    yield client
    client.close()


def test_node_mysql2_query_execute_and_multi_statements(cluster: Cluster, repo: str, node_client: NodeClient) -> None:
    backup_lose_restore_read(node_client, "c_node")
    prepared = node_client.request("SELECT v FROM t WHERE k = ? OR v = ? ORDER BY k", [1, "three"], mode="execute")
    assert prepared == {"results": [[["one"], ["three"]]]}
    both = node_client.request("INSERT INTO t VALUES (4, 'four'); SELECT count(*) FROM t")
    assert both == {"results": [{"affectedRows": 1}, [["4"]]]}
    missing = node_client.request("SELECT * FROM nosuch")
    assert missing["error"]["code"] == 1105 and "does not exist" in missing["error"]["message"]


# --- mycli (Debian's), non-interactive -------------------------------------------------------------------------

def mycli_runner(port: int, db: str, home: Path) -> Callable[[str], list[tuple]]:
    env = {**os.environ, "HOME": str(home)}  # mycli writes its rc file and history under HOME

    def run(sql: str) -> list[tuple]:
        done = subprocess.run(["mycli", "-h", "127.0.0.1", "-P", str(port), "-u", "root", "--csv", "--no-warn",
                               "-D", db, "-e", sql], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and not done.stderr.strip(), (sql, done.stdout, done.stderr)
        rows = list(csv.reader(io.StringIO(done.stdout)))
        return [tuple(r) for r in rows[1:]]  # the first row is the header
    return run


def test_mycli(cluster: Cluster, repo: str, tmp_path: Path) -> None:
    if shutil.which("mycli") is None:
        pytest.fail("mycli is missing: ./run.sh test installs Debian's package")
    db = fresh_db(cluster, "c_mycli")
    run = mycli_runner(cluster.port, db, tmp_path)
    backup_lose_restore_read(run, db)
    assert run("\\dt t")[0][0] == "k"  # \dt t sends SHOW FIELDS FROM t
    # status reads the server's version, connection id, character sets and port: every one answered.
    status = {row[0]: row[1] for row in run("status") if len(row) == 2}
    assert status["Current database:"] == db and status["TCP port:"] == str(cluster.port), status
    assert status["Server version:"].startswith("5.7.99"), status
