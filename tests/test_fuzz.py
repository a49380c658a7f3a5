"""Fuzzing the MySQL port: thousands of mutated statements and malformed packets, from a fixed seed.

After each batch a second client must be answered within a second, and no reply may carry Python's, sqlglot's
or DuckDB's own text, nor the fixed text of a failure no check foresaw (an "Unexpected exception" is a bug).
"""

from __future__ import annotations

import random
import struct
import time

import pymysql
import pytest

from tests.cluster import Cluster
from tests.raw_mysql import (
    CAPABILITIES,
    CLIENT_CONNECT_ATTRS,
    CLIENT_CONNECT_WITH_DB,
    COM_CHANGE_USER,
    COM_FIELD_LIST,
    COM_INIT_DB,
    COM_QUERY,
    COM_STMT_EXECUTE,
    COM_STMT_PREPARE,
    COM_STMT_SEND_LONG_DATA,
    RawClient,
    error_of,
    handshake_response,
)
from tests.test_trust import foreign

SEED = 13
STATEMENTS = 2500
PACKETS = 3000
BATCH = 250

SEEDS = [
    "SELECT k, v, k + 1 AS n FROM fz.t WHERE k > 1 AND v LIKE 'a%' ORDER BY k LIMIT 10",
    "SELECT count(*), sum(k), max(v) FROM fz.t GROUP BY v HAVING count(*) > 0",
    "SELECT a.k FROM fz.t a JOIN fz.t b ON a.k = b.k WHERE a.k IN (1, 2, 3)",
    "WITH c AS (SELECT k FROM fz.t) SELECT * FROM c UNION ALL SELECT 1",
    "SELECT date_format(now(), '%Y-%m-%d'), concat('a', 'b'), substr('abc', 2), abs(-1), round(1.5)",
    "SELECT CASE WHEN k = 1 THEN 'one' ELSE 'other' END, cast(k AS VARCHAR(10)) FROM fz.t",
    "SELECT @@version_comment LIMIT 1",
    "SELECT DATABASE(), USER(), CONNECTION_ID()",
    "SELECT * FROM numbers(\"number\" = \"5\")",
    "SELECT * FROM information_schema.tables WHERE table_schema = 'fz'",
    "INSERT INTO fz.t VALUES (1, 'a'), (2, 'b')",
    "INSERT INTO fz.t SELECT k + 10, v FROM fz.t WHERE k < 3",
    "CREATE TABLE IF NOT EXISTS fz.t2 (k INT, v VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 "
    "PROPERTIES ('replication_num' = '1')",
    "CREATE VIEW IF NOT EXISTS fz.v AS SELECT k FROM fz.t",
    "ALTER TABLE fz.t ADD PARTITION p1 VALUES LESS THAN ('10')",
    "SHOW TABLES FROM fz",
    "SHOW CREATE TABLE fz.t",
    "SHOW PARTITIONS FROM fz.t",
    "SHOW FULL COLUMNS FROM fz.t",
    "DESC fz.t ALL",
    "SHOW DATA FROM fz",
    "SHOW VARIABLES LIKE 'max%'",
    "SET sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')",
    "SET time_zone = '+08:00'",
    "USE fz",
    "EXPLAIN SELECT * FROM fz.t WHERE k = 1",
    "CREATE REPOSITORY fzr WITH LOCAL ON LOCATION 'file:///tmp/fz' PROPERTIES ('k' = 'v')",
    "BACKUP SNAPSHOT fz.s1 TO fzr ON (t) PROPERTIES ('type' = 'full')",
    "RESTORE SNAPSHOT fz.s1 FROM fzr ON (t AS t3) PROPERTIES ('backup_timestamp' = '2026-01-01-00-00-00')",
    "SHOW BACKUP FROM fz WHERE SnapshotName = 's1'",
    "SHOW SNAPSHOT ON fzr",
    "CANCEL BACKUP FROM fz",
    "SHOW RESTORE FROM fz",
    "help backup",
    "SHOW GRANTS",
    "SHOW PROCESSLIST",
    "SHOW FRONTEND CONFIG LIKE 'max%'",
    "SHOW BACKENDS",
    "TRUNCATE TABLE fz.t2",
    "GRANT SELECT_PRIV ON fz.* TO fzu",
    "SELECT /*+ SET_VAR(query_timeout = 10) */ 1",
    "SELECT k FROM fz.t WHERE v REGEXP '^a' AND k BETWEEN 1 AND 5 OR v IS NULL",
    "SELECT row_number() OVER (PARTITION BY v ORDER BY k) FROM fz.t",
]
PIECES = ["'", '"', "`", "(", ")", ",", ";", "\\", "\0", "--", "/*", "*/", "?", "@@", "\n", "\ud7ff", "é", "中",
          "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "NULL", "CASE", "END", "UNION", "AS", "ON", "JOIN", "(SELECT",
          "read_csv('/etc/passwd')", "repeat('a', 99999999999)", "1e999999", "99999999999999999999999999", "-",
          "*", "=", ".", "fz.", "information_schema.", "PARTITION", "PROPERTIES", "\"\"", "''", "0x", "b'", "[", "]",
          "{", "}", "INTERVAL 1 DAY", "COLLATE utf8mb4_bin", "::", "$", "#", "%", "~", "!", "<=>", "||", "&&"]


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        at = rng.randint(0, len(text))
        if choice < 0.35:
            text = text[:at] + rng.choice(PIECES) + text[at:]
        elif choice < 0.55:
            text = text[:at] + text[at + rng.randint(1, 8):]
        elif choice < 0.7:
            words = text.split(" ")
            i, j = rng.randrange(len(words)), rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
            text = " ".join(words)
        elif choice < 0.8:
            text = text[:at] + text[max(0, at - 10):at] * rng.randint(2, 50) + text[at:]
        elif choice < 0.9:
            text = text[:at]
        else:
            text = text[:at] + chr(rng.randint(0, 0x2FFF)) + text[at:]
    return text


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        at = rng.randint(0, len(out))
        if choice < 0.3 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice < 0.5:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice < 0.7:
            del out[at:at + rng.randint(1, 8)]
        elif choice < 0.85:
            out = out[:at]
        else:
            out[at:at] = rng.choice([b"\0", b"\xff" * 9, b"\xfc\xff\xff", b"\xfe" + b"\xff" * 8, b"\xfb"])
    return bytes(out)


@pytest.fixture(scope="module")
def fuzz_cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    c = Cluster(tmp_path_factory.mktemp("fuzz"), backends=1).start()
    c.query("CREATE DATABASE fz")
    c.query("CREATE TABLE fz.t (k INT, v VARCHAR(20)) DUPLICATE KEY(k) PARTITION BY RANGE(k) "
            "(PARTITION p0 VALUES LESS THAN ('100')) DISTRIBUTED BY HASH(k) BUCKETS 2 "
            "PROPERTIES ('replication_num' = '1')")
    c.query("INSERT INTO fz.t VALUES (1, 'a'), (2, 'b'), (3, NULL)")
    c.query("CREATE USER fzu")
    yield c
    c.stop()


def check_second_client(c: Cluster) -> None:
    started = time.monotonic()
    assert c.query("SELECT 1") == [(1,)]
    assert time.monotonic() - started < 1.0


def check_text(source: object, message: str) -> None:
    assert not foreign(message), (source, message)
    assert "Unexpected exception" not in message, (source, message)


@pytest.mark.parametrize(("sql", "code", "text"), [
    ("SHOW TABLE", 1064, "Syntax error in line 1, column 1 near 'SHOW TABLE'"),
    ("SET time_zone = '+0中:00'", 1298, "Unknown or incorrect time zone: '+0中:00'"),
    ('SELECT * FROM numbers("number" = "ten")', 1105, "cannot parse param value ten"),
    ("SHOW VARIABLES LIKE 'max(%'", None, None),
    ("SELECT date_format(now(), '%éY')", 1105, "Failed to parse format specifier"),
    ("SELECT count(*) FROM fz.t a " + "JOIN fz.t " * 40 + "WHERE (", 1064, "Syntax error"),
])
def test_what_the_fuzz_found(fuzz_cluster: Cluster, sql: str, code: int | None, text: str | None) -> None:
    """Each once answered with Python's text or 'Unexpected exception' (the 40 JOINs without ON: after minutes)."""
    started = time.monotonic()
    try:
        fuzz_cluster.query(sql)
        assert code is None, sql
    except pymysql.err.MySQLError as e:
        check_text(sql, e.args[1])
        assert (e.args[0], text is not None and text in e.args[1]) == (code, True), e.args
    assert time.monotonic() - started < 2


def test_mutated_statements(fuzz_cluster: Cluster) -> None:
    rng = random.Random(SEED)
    conn = fuzz_cluster.connect()
    for n in range(STATEMENTS):
        sql = mutate(rng, rng.choice(SEEDS))
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                cur.fetchall()
        except pymysql.err.MySQLError as e:
            message = str(e.args[1]) if len(e.args) > 1 else str(e)
            check_text(sql, message)
            if isinstance(e, pymysql.err.OperationalError) and e.args[0] in (2006, 2013, 2014):
                conn = fuzz_cluster.connect()  # the server closed it (packet errors): start again
        except (UnicodeError, ValueError):
            conn = fuzz_cluster.connect()  # pymysql could not encode or read what was sent
        if n % BATCH == BATCH - 1:
            check_second_client(fuzz_cluster)
    check_second_client(fuzz_cluster)


SENTINEL = b"fuzz-sentinel"


def _answers(client: RawClient) -> list[bytes]:
    """The packets the server sends for the last packet, up to the answer to a query sent after it: no waiting
    on timeouts, so thousands of packets take seconds. A server left waiting for more (a login that asked for
    TLS) reads the query as that, and answers or closes."""
    packets: list[bytes] = []
    client.sock.settimeout(3.0)
    try:
        client.seq = 0
        client.send(bytes([COM_QUERY]) + b"SELECT '" + SENTINEL + b"'")
        while SENTINEL not in (packet := client.read()):
            packets.append(packet)
    except (ConnectionError, TimeoutError, OSError):
        pass
    return packets


def test_malformed_packets(fuzz_cluster: Cluster) -> None:
    rng = random.Random(SEED + 1)
    logins = [
        handshake_response(b"root\0", tail=b"mysql_native_password\0"),
        handshake_response(b"root\0", capabilities=CAPABILITIES | CLIENT_CONNECT_WITH_DB,
                           tail=b"fz\0mysql_native_password\0"),
        handshake_response(b"root\0", capabilities=CAPABILITIES | CLIENT_CONNECT_ATTRS,
                           tail=b"mysql_native_password\0" + b"\x0a\x03key\x05value"),
    ]
    commands = [
        bytes([COM_QUERY]) + b"SELECT k FROM fz.t",
        bytes([COM_INIT_DB]) + b"fz",
        bytes([COM_FIELD_LIST]) + b"t\0",
        bytes([COM_STMT_PREPARE]) + b"SELECT ?, ?",
        bytes([COM_STMT_EXECUTE]) + struct.pack("<IBI", 1, 0, 1) + b"\x00\x01" + bytes([8, 0, 253, 0])
        + struct.pack("<q", 5) + b"\x03abc",
        bytes([COM_STMT_SEND_LONG_DATA]) + struct.pack("<IH", 1, 0) + b"data",
        bytes([COM_CHANGE_USER]) + b"root\0\x00fz\0",
    ]
    for n in range(PACKETS):
        with RawClient(fuzz_cluster.port) as client:
            if rng.random() < 0.4:
                client.send(mutate_bytes(rng, rng.choice(logins)))
            else:
                assert client.login()[:1] == b"\x00"
                client.seq = 0
                client.send(commands[3])  # a prepared statement for the EXECUTE and LONG_DATA mutations
                _answers(client)
                client.seq = 0
                client.send(mutate_bytes(rng, rng.choice(commands)))
            for packet in _answers(client):
                error = error_of(packet)
                if error is not None:
                    check_text(n, error[1])
        if n % BATCH == BATCH - 1:
            check_second_client(fuzz_cluster)
    check_second_client(fuzz_cluster)
