"""Issue 15 item 2: indexes (INDEX in CREATE TABLE, CREATE / DROP / BUILD INDEX, ALTER TABLE ADD / DROP INDEX,
bloom filter properties), SHOW INDEX, indexes in SHOW CREATE TABLE, MATCH_* predicates with and without an
index, indexes across an FE restart and through BACKUP / RESTORE (force_replace replaces them)."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from tests.backup_helpers import backup_and_wait, create_local_repo, wait_job
from tests.cluster import Cluster
from tests.test_http import stream_load

SHOW_INDEX_COLUMNS = ["Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name", "Collation",
                      "Cardinality", "Sub_part", "Packed", "Null", "Index_type", "Comment", "Properties"]

DOCS_TABLE = """CREATE TABLE {name} (
  id INT NOT NULL,
  title VARCHAR(200),
  body STRING,
  tag VARCHAR(50),
  INDEX idx_title (title) USING INVERTED PROPERTIES ("parser" = "english") COMMENT 'title words',
  INDEX idx_body (body) USING INVERTED PROPERTIES ("support_phrase" = "true", "parser" = "unicode"),
  INDEX idx_tag_ng (tag) USING NGRAM_BF PROPERTIES ("gram_size" = "3", "bf_size" = "256"),
  INDEX idx_id (id)
) DUPLICATE KEY (id) DISTRIBUTED BY HASH (id) BUCKETS 2
PROPERTIES ("replication_num" = "1", "bloom_filter_columns" = "title, id", "bloom_filter_fpp" = "0.01")"""


def error(cluster: Cluster, sql: str, user: str = "root", password: str = "") -> tuple[int, str]:
    with pytest.raises(pymysql.err.MySQLError) as e:
        cluster.query(sql, user=user, password=password)
    code, message = e.value.args
    return code, message.removeprefix("errCode = 2, detailMessage = ")


def index_rows(cluster: Cluster, table: str) -> list[tuple]:
    return [(r[2], r[4], r[10], r[11], r[12]) for r in cluster.query(f"SHOW INDEX FROM {table}")]


def show_create(cluster: Cluster, table: str) -> str:
    return cluster.query(f"SHOW CREATE TABLE {table}")[0][1]


DOCS_INDEXES = [
    ("idx_title", "title", "INVERTED", "title words", '("parser" = "english", "lower_case" = "true")'),
    ("idx_body", "body", "INVERTED", "", '("support_phrase" = "true", "parser" = "unicode", "lower_case" = "true")'),
    ("idx_tag_ng", "tag", "NGRAM_BF", "", '("bf_size" = "256", "gram_size" = "3")'),
    ("idx_id", "id", "INVERTED", "", ""),
]


def test_index_statements_show_index_and_show_create_table(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS idx_db")
    cluster.query(DOCS_TABLE.format(name="idx_db.docs"))
    with cluster.connect(database="idx_db") as conn, conn.cursor() as cur:
        cur.execute("SHOW INDEX FROM docs")
        assert [d[0] for d in cur.description] == SHOW_INDEX_COLUMNS
        rows = cur.fetchall()
    assert rows[0] == ("docs", "", "idx_title", "", "title", "", "", "", "", "", "INVERTED", "title words",
                       '("parser" = "english", "lower_case" = "true")')
    assert index_rows(cluster, "idx_db.docs") == DOCS_INDEXES
    # Every spelling Doris reads.
    for form in ("SHOW INDEXES FROM docs FROM idx_db", "SHOW KEYS IN idx_db.docs", "SHOW KEY FROM docs IN idx_db"):
        assert [r[2] for r in cluster.query(form)] == ["idx_title", "idx_body", "idx_tag_ng", "idx_id"]

    text = show_create(cluster, "idx_db.docs")
    assert "  `tag` varchar(50) NULL,\n" \
           "  INDEX idx_title (`title`) USING INVERTED PROPERTIES(\"parser\" = \"english\", \"lower_case\" = " \
           "\"true\") COMMENT 'title words',\n" \
           "  INDEX idx_body (`body`) USING INVERTED PROPERTIES(\"support_phrase\" = \"true\", \"parser\" = " \
           "\"unicode\", \"lower_case\" = \"true\"),\n" \
           "  INDEX idx_tag_ng (`tag`) USING NGRAM_BF PROPERTIES(\"bf_size\" = \"256\", \"gram_size\" = \"3\"),\n" \
           "  INDEX idx_id (`id`) USING INVERTED\n) ENGINE=OLAP" in text, text
    assert '"bloom_filter_columns" = "id, title"' in text and '"bloom_filter_fpp" = "0.01"' in text

    # CREATE INDEX / ALTER TABLE ADD INDEX, DROP INDEX / ALTER TABLE DROP INDEX, IF [NOT] EXISTS, BUILD INDEX.
    cluster.query("CREATE TABLE idx_db.notes (k INT, note VARCHAR(100)) DISTRIBUTED BY HASH (k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    cluster.query("CREATE INDEX idx_note ON idx_db.notes (note) USING INVERTED PROPERTIES ('parser' = 'english')")
    cluster.query("CREATE INDEX IF NOT EXISTS idx_note ON idx_db.notes (k)")  # nothing changes
    cluster.query("ALTER TABLE idx_db.notes ADD INDEX idx_note_ng (note) USING NGRAM_BF COMMENT 'grams'")
    # A new BITMAP index is an INVERTED one, as in Doris since 2.1.5.
    cluster.query("CREATE INDEX idx_k ON idx_db.notes (k) USING BITMAP")
    assert index_rows(cluster, "idx_db.notes")[-1] == ("idx_k", "k", "INVERTED", "", "")
    assert error(cluster, "CREATE INDEX idx_k2 ON idx_db.notes (k) USING INVERTED") == (
        1105, "INVERTED index for columns (k ) already exist.")
    cluster.query("DROP INDEX idx_k ON idx_db.notes")
    cluster.query("BUILD INDEX idx_note ON idx_db.notes")
    assert error(cluster, "BUILD INDEX idx_note ON idx_db.notes PARTITION (notes)") == (
        1105, "table notes is not partitioned, cannot build index with partitions.")
    assert error(cluster, "BUILD INDEX idx_note_ng ON idx_db.notes") == (
        1105, "BUILD INDEX operation failed: The index idx_note_ng of type NGRAM_BF does not support lightweight "
              "index changes.")
    assert index_rows(cluster, "idx_db.notes") == [
        ("idx_note", "note", "INVERTED", "", '("parser" = "english", "lower_case" = "true")'),
        ("idx_note_ng", "note", "NGRAM_BF", "grams", '("bf_size" = "256", "gram_size" = "2")')]
    cluster.query("DROP INDEX idx_note ON idx_db.notes")
    cluster.query("DROP INDEX IF EXISTS idx_note ON idx_db.notes")
    cluster.query("ALTER TABLE idx_db.notes DROP INDEX idx_note_ng")
    assert list(cluster.query("SHOW INDEX FROM idx_db.notes")) == []
    assert "INDEX" not in show_create(cluster, "idx_db.notes")
    cluster.query("ALTER TABLE idx_db.notes SET ('bloom_filter_columns' = 'note,k')")
    assert '"bloom_filter_columns" = "k, note"' in show_create(cluster, "idx_db.notes")
    cluster.query("CREATE TABLE idx_db.parts (k INT, s STRING, INDEX idx_s (s) USING INVERTED) "
                  "PARTITION BY RANGE (k) (PARTITION p1 VALUES LESS THAN (10), PARTITION p2 VALUES LESS THAN (20)) "
                  "DISTRIBUTED BY HASH (k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")
    cluster.query("BUILD INDEX idx_s ON idx_db.parts PARTITION (p1, p2)")
    assert error(cluster, "BUILD INDEX idx_s ON idx_db.parts PARTITIONS (p3)") == (1105, "Partition p3 does not exist")
    # CREATE TABLE LIKE copies the indexes.
    cluster.query("CREATE TABLE idx_db.docs_copy LIKE idx_db.docs")
    assert index_rows(cluster, "idx_db.docs_copy") == DOCS_INDEXES


def test_index_errors(cluster: Cluster) -> None:
    cluster.query("CREATE DATABASE IF NOT EXISTS idx_err")
    cluster.query("CREATE TABLE IF NOT EXISTS idx_err.t (k INT, v VARCHAR(20), f DOUBLE, INDEX i_v (v)) "
                  "DISTRIBUTED BY HASH (k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")

    def create(index: str, table: str = "(k INT, v VARCHAR(20), {index})", keys: str = "") -> tuple[int, str]:
        return error(cluster, f"CREATE TABLE idx_err.bad {table.format(index=index)} {keys} "
                              "DISTRIBUTED BY HASH (k) BUCKETS 1 PROPERTIES ('replication_num' = '1')")

    assert create("INDEX i (nope)") == (1105, "Column does not exist in table. invalid column: nope")
    assert create("INDEX i (v), INDEX i (k)") == (1105, "index name must be unique.")
    assert create("INDEX i (v), INDEX j (v)") == (
        1105, "same index columns have multiple same type index is not allowed.")
    assert create("INDEX i (k, v)") == (1105, "INVERTED index can only apply to a single column.")
    assert create("INDEX i (v) USING INVERTED PROPERTIES ('parser' = 'french')") == (
        1105, "invalid INVERTED index:Invalid inverted index 'parser' value: french, parser must be none, english, "
              "unicode or chinese")
    assert create("INDEX i (v) USING INVERTED PROPERTIES ('colour' = 'red')") == (
        1105, "invalid INVERTED index:Invalid inverted index property key: colour")
    assert create("INDEX i (v) USING INVERTED PROPERTIES ('parser' = 'english', 'parser_mode' = 'fine_grained')") \
        == (1105, "invalid INVERTED index:parser_mode is only available for chinese parser")
    assert create("INDEX i (k) USING INVERTED PROPERTIES ('parser' = 'english')") == (
        1105, "invalid INVERTED index:INVERTED index with parser: english is not supported for column: k of type INT")
    assert create("INDEX i (k) USING NGRAM_BF") == (1105, "INT is not supported in ngram_bf index. invalid column: k")
    assert create("INDEX i (v) USING NGRAM_BF PROPERTIES ('gram_size' = '300')") == (
        1105, "invalid ngram bf index params:gram_size should be integer and less than 256")
    assert create("INDEX i (v) USING NGRAM_BF PROPERTIES ('bf_size' = '8')") == (
        1105, "invalid ngram bf index params:bf_size should be integer and between 64 and 65536")
    assert create("INDEX i (v) USING BTREE")[0] == 1064
    assert create("INDEX i (v)", "(k INT, v INT SUM, {index})", "AGGREGATE KEY (k)") == (
        1105, "index should only be used in columns of DUP_KEYS/UNIQUE_KEYS table or key columns of AGG_KEYS "
              "table. invalid index: i")
    # Bloom filter table properties.
    bloom = "CREATE TABLE idx_err.bad (k INT, v VARCHAR(20), f DOUBLE{index}) DISTRIBUTED BY HASH (k) BUCKETS 1 " \
            "PROPERTIES ('replication_num' = '1', {props})"
    assert error(cluster, bloom.format(index="", props="'bloom_filter_columns' = 'nope'")) == (
        1105, "Bloom filter column does not exist in table. invalid column: nope")
    assert error(cluster, bloom.format(index="", props="'bloom_filter_columns' = 'f'")) == (
        1105, "DOUBLE is not supported in bloom filter index. invalid column: f")
    assert error(cluster, bloom.format(index="", props="'bloom_filter_columns' = 'v, V'")) == (
        1105, "Reduplicated bloom filter column: V")
    assert error(cluster, bloom.format(index="", props="'bloom_filter_fpp' = '0.5'")) == (
        1105, "Bloom filter fpp should in [0.0001, 0.05]")
    assert error(cluster, bloom.format(index="", props="'bloom_filter_fpp' = 'high'")) == (
        1105, "Bloom filter fpp is not Double: high")
    assert error(cluster, bloom.format(index=", INDEX g (v) USING NGRAM_BF", props="'bloom_filter_columns' = 'v'")) \
        == (1105, "v should have only one ngram bloom filter index or bloom filter index")
    # On an existing table.
    assert error(cluster, "CREATE INDEX i_v ON idx_err.t (k)") == (1105, "index `i_v` already exist.")
    assert error(cluster, "CREATE INDEX i_v2 ON idx_err.t (v)") == (
        1105, "INVERTED index for columns (v ) already exist.")
    assert error(cluster, "ALTER TABLE idx_err.t ADD INDEX i_x (x)") == (
        1105, "Column does not exist in table. invalid column: x")
    assert error(cluster, "DROP INDEX nope ON idx_err.t") == (1105, "index nope does not exist")
    assert error(cluster, "ALTER TABLE idx_err.t DROP INDEX nope") == (1105, "index nope does not exist")
    assert error(cluster, "BUILD INDEX nope ON idx_err.t") == (1105, "Index[nope] is not exist in table[t]")
    assert error(cluster, "SHOW INDEX FROM idx_err.nope") == (1146, "Unknown table 'nope'")
    assert error(cluster, "SHOW INDEX idx_err.t")[0] == 1064
    # SHOW INDEX needs a privilege on the table; one without it is not told whether it exists.
    cluster.query("CREATE USER IF NOT EXISTS idx_nobody IDENTIFIED BY 'pw'")
    code, message = error(cluster, "SHOW INDEX FROM idx_err.t", "idx_nobody", "pw")
    assert code == 1142 and message.startswith("SHOW INDEX command denied to user 'idx_nobody'@"), message
    assert message.endswith("for table 'idx_err: t'"), message


MATCH_ROWS = [
    (1, "The Quick brown fox", "Apache Doris 是一个数据库", "alpha"),
    (2, "quick-thinking Foxes", "the lazy dog and the fox", "beta"),
    (3, "brown bread, quick lunch", "Doris stores data", "alpha beta"),
    (4, None, None, None),
    (5, "BROWN quick Fox!", "数据 仓库", "Alpha"),
]


@pytest.fixture(scope="module")
def match_db(cluster: Cluster) -> str:
    cluster.query("CREATE DATABASE IF NOT EXISTS idx_match")
    cluster.query(DOCS_TABLE.format(name="idx_match.docs"))
    cluster.query("INSERT INTO idx_match.docs VALUES " + ", ".join(
        "(" + ", ".join("NULL" if v is None else repr(v) for v in row) + ")" for row in MATCH_ROWS))
    return "idx_match"


def ids(cluster: Cluster, where: str) -> list[int]:
    return [r[0] for r in cluster.query(f"SELECT id FROM idx_match.docs WHERE {where} ORDER BY id")]


@pytest.mark.parametrize(("where", "expected"), [
    # english parser: ASCII words, lower-cased.
    ("title MATCH_ANY 'fox'", [1, 5]),
    ("title MATCH 'FOX bread'", [1, 3, 5]),
    ("title MATCH_ALL 'quick brown'", [1, 3, 5]),
    ("title MATCH_ALL 'quick brown fox'", [1, 5]),
    ("title MATCH_PHRASE 'quick brown'", [1]),
    ("title MATCH_PHRASE 'brown quick'", [5]),
    ("title MATCH_PHRASE_PREFIX 'quick th'", [2]),
    ("title MATCH_PHRASE_PREFIX 'fo'", [1, 2, 5]),
    ("title MATCH_REGEXP '^fox'", [1, 2, 5]),
    ("title MATCH_ANY '!!!'", []),
    ("NOT title MATCH_ANY 'fox'", [2, 3]),
    # unicode parser: each Han character a term, English stop words dropped.
    ("body MATCH_ANY '数'", [1, 5]),
    ("body MATCH_PHRASE '数据库'", [1]),
    ("body MATCH_ALL 'doris'", [1, 3]),
    ("body MATCH_ANY 'the'", []),
    ("body MATCH_PHRASE 'lazy dog fox'", [2]),
    # No inverted index on tag (only an n-gram one): the whole value is the term, as written.
    ("tag MATCH_ANY 'alpha'", [1]),
    ("tag MATCH_ALL 'alpha beta'", [3]),
    ("tag MATCH_PHRASE_PREFIX 'alp'", [1, 3]),
    ("tag MATCH_REGEXP '^[aA]lpha$'", [1, 5]),
    # With other predicates, qualified columns.
    ("docs.title MATCH_ANY 'fox' AND id > 1", [5]),
    ("title MATCH_ANY 'lunch' OR body MATCH_ANY 'lazy'", [2, 3]),
])
def test_match_predicates(cluster: Cluster, match_db: str, where: str, expected: list[int]) -> None:
    assert ids(cluster, where) == expected


def test_match_in_views_aggregates_and_the_mariadb_client(cluster: Cluster, match_db: str) -> None:
    cluster.query("CREATE VIEW idx_match.foxes AS SELECT id, title FROM idx_match.docs WHERE title MATCH_ANY 'fox'")
    assert cluster.query("SELECT id FROM idx_match.foxes ORDER BY id") == [(1,), (5,)]
    # A MATCH on a view's column tokenises as the index of the table column behind it.
    assert cluster.query("SELECT id FROM idx_match.foxes WHERE title MATCH_ANY 'quick' ORDER BY id") == [(1,), (5,)]
    assert cluster.query("SELECT f.id FROM idx_match.foxes f JOIN idx_match.docs d ON f.id = d.id "
                         "WHERE f.title MATCH_PHRASE 'brown quick' AND d.body MATCH_ANY '数'") == [(5,)]
    assert cluster.query("SELECT count(*) FROM idx_match.docs WHERE title MATCH_ALL 'brown'") == [(3,)]
    assert cluster.query("SELECT title MATCH_ANY 'fox' FROM idx_match.docs ORDER BY id") == [
        (1,), (0,), (0,), (None,), (1,)]
    assert error(cluster, "SELECT id FROM idx_match.docs WHERE title MATCH_PHRASE_EDGE 'fox'") == (
        1105, "FunctionMatchPhraseEdge not support execute_match")
    assert error(cluster, "SELECT id FROM idx_match.docs WHERE title MATCH_ANY")[0] == 1064
    assert error(cluster, "SELECT id FROM idx_match.docs WHERE upper(title) MATCH_ANY 'FOX'") == (
        1105, "Only support match left operand is SlotRef, right operand is Literal. But meet expression "
              "UPPER(title) MATCH_ANY 'FOX'")
    assert error(cluster, "SELECT id FROM idx_match.docs WHERE title MATCH_ANY tag")[0] == 1105
    assert cluster.query("SELECT id FROM idx_match.docs WHERE title MATCH_ANY NULL") == []
    assert error(cluster, "SELECT id FROM idx_match.docs WHERE title MATCH_REGEXP '('")[0] == 1105
    # As Doris: with enable_match_without_inverted_index off, MATCH needs an inverted index on the column.
    with cluster.connect() as conn, conn.cursor() as cur:
        cur.execute("SET enable_match_without_inverted_index = false")
        cur.execute("SELECT id FROM idx_match.docs WHERE title MATCH_ANY 'fox' ORDER BY id")
        assert cur.fetchall() == ((1,), (5,))
        with pytest.raises(pymysql.err.MySQLError) as e:
            cur.execute("SELECT id FROM idx_match.docs WHERE tag MATCH_PHRASE 'alpha'")
        assert e.value.args == (1105, "errCode = 2, detailMessage = [E-6001]match_phrase not support execute_match")
    # Outside a query: a constant has no column to match; a Stream Load mapping matches the whole value.
    assert error(cluster, "SET query_timeout = 'a' MATCH_ANY 'a'")[1].startswith(
        "Only support match left operand is SlotRef")
    cluster.query("CREATE TABLE idx_match.flags (k INT, hit BOOLEAN) DISTRIBUTED BY HASH (k) BUCKETS 1 "
                  "PROPERTIES ('replication_num' = '1')")
    loaded = stream_load(cluster, "idx_match", "flags", b"1,fox\n2,a fox\n", column_separator=",",
                         columns="k, tmp, hit = tmp MATCH_ANY 'fox'")
    assert loaded["Status"] == "Success", loaded
    assert cluster.query("SELECT k, hit FROM idx_match.flags ORDER BY k") == [(1, 1), (2, 0)]
    done = cluster.mariadb("SELECT id FROM idx_match.docs WHERE title MATCH_PHRASE 'quick brown'; "
                           "SHOW INDEX FROM idx_match.docs", extra=("-N", "-B"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1"
    assert lines[1].split("\t") == ["docs", "", "idx_title", "", "title", "", "", "", "", "", "INVERTED",
                                    "title words", '("parser" = "english", "lower_case" = "true")']


def test_indexes_survive_a_restart_and_travel_with_backup_and_restore(own_cluster: Cluster, tmp_path: Path) -> None:
    c = own_cluster
    c.query("CREATE DATABASE lib")
    c.query(DOCS_TABLE.format(name="lib.docs"))
    c.query("INSERT INTO lib.docs VALUES (1, 'quick fox', 'doris', 'a'), (2, 'slow dog', 'data', 'b')")
    c.query("DROP INDEX idx_id ON lib.docs")
    c.kill_fe()
    c.start_fe(auto_backends=False)
    assert index_rows(c, "lib.docs") == DOCS_INDEXES[:3]
    before = show_create(c, "lib.docs")

    create_local_repo(c, "idx_repo", tmp_path / "repo")
    ts = backup_and_wait(c, "lib", "snap1", "idx_repo", "ON (docs)")
    c.query("DROP TABLE lib.docs FORCE")
    c.query(f'RESTORE SNAPSHOT lib.snap1 FROM idx_repo ON (docs) PROPERTIES ("backup_timestamp" = "{ts}", '
            '"replication_num" = "1")')
    assert wait_job(c, "RESTORE", "lib", "snap1")["State"] == "FINISHED"
    assert index_rows(c, "lib.docs") == DOCS_INDEXES[:3]
    assert show_create(c, "lib.docs") == before
    assert [r[0] for r in c.query("SELECT id FROM lib.docs WHERE title MATCH_ANY 'fox'")] == [1]

    # Into the table that exists: its own indexes stay, unless force_replace says the backup's replace them.
    c.query("DROP INDEX idx_title ON lib.docs")
    c.query("CREATE INDEX idx_tag ON lib.docs (tag)")
    c.query(f'RESTORE SNAPSHOT lib.snap1 FROM idx_repo ON (docs) PROPERTIES ("backup_timestamp" = "{ts}", '
            '"replication_num" = "1")')
    assert wait_job(c, "RESTORE", "lib", "snap1")["State"] == "FINISHED"
    assert [r[0] for r in index_rows(c, "lib.docs")] == ["idx_body", "idx_tag_ng", "idx_tag"]
    c.query(f'RESTORE SNAPSHOT lib.snap1 FROM idx_repo ON (docs) PROPERTIES ("backup_timestamp" = "{ts}", '
            '"replication_num" = "1", "atomic_restore" = "true", "force_replace" = "true")')
    assert wait_job(c, "RESTORE", "lib", "snap1")["State"] == "FINISHED"
    assert index_rows(c, "lib.docs") == DOCS_INDEXES[:3]
    c.kill_fe()
    c.start_fe(auto_backends=False)
    assert index_rows(c, "lib.docs") == DOCS_INDEXES[:3]
