"""HELP: the grammar/ topics, how lookups resolve, and what the mariadb client prints for each answer."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

import pytest
from sqlglot import exp

from doris_br.fe.statements import HANDLERS, SHOW_HANDLERS
from doris_br.help import HelpIndex, Topic, TopicFormatError, grammar_dir, load_topics, parse_topic
from doris_br.help.lookup import LIST_COLUMNS, TOPIC_COLUMNS
from doris_br.sql import parse
from doris_br.sql.dialect import DorisBRParser
from tests.cluster import Cluster

TOPICS = load_topics()
TOPIC_IDS = [t.file_name for t in TOPICS]

# ---- the grammar/ files ------------------------------------------------------------------------------------


def test_grammar_has_topics() -> None:
    files = {p.name for p in grammar_dir().glob("*.md")} - {"README.md"}
    assert files == {t.file_name for t in TOPICS}
    assert len(TOPICS) >= 23


@pytest.mark.parametrize("topic", TOPICS, ids=TOPIC_IDS)
def test_examples_parse(topic: Topic) -> None:
    for block in topic.examples:
        statements = parse(block)  # raises on anything our dialect does not accept
        assert statements, f"{topic.file_name}: an example block without a statement"


_SYNTAX_TOKEN = re.compile(r"[\[\]{}|]|[^\s\[\]{}|]+")


def _expand(tokens: list[str], i: int, closer: str | None) -> tuple[list[tuple[str, ...]], int]:
    """The word sequences tokens[i:] spell up to `closer`, and the index after it."""
    alternatives: list[tuple[str, ...]] = []
    current: list[tuple[str, ...]] = [()]
    while i < len(tokens) and tokens[i] != closer:
        token = tokens[i]
        if token == "|":
            alternatives, current, i = alternatives + current, [()], i + 1
        elif token in ("[", "{"):
            inner, i = _expand(tokens, i + 1, "]" if token == "[" else "}")
            inner += [()] if token == "[" else []
            current = [c + x for c in current for x in inner]
        else:
            current, i = [c + (token.upper(),) for c in current], i + 1
    return alternatives + current, i + 1


def syntax_forms(syntax: str) -> list[tuple[str, ...]]:
    """The statement forms of a Syntax block: the unindented lines of its first paragraph (indented lines
    continue a form; later paragraphs define placeholders), with [optional] and {a | b} expanded."""
    first_paragraph = syntax.split("\n\n")[0].splitlines()
    forms: list[tuple[str, ...]] = []
    for line in first_paragraph:
        if line and not line[0].isspace():
            forms += _expand(_SYNTAX_TOKEN.findall(line), 0, None)[0]
    return forms


def test_syntax_forms_expand_options_and_alternatives() -> None:
    assert syntax_forms("SHOW {CHARSET | CHARACTER SET} [LIKE 'p']\n    more\n\nx:\n  y") == [
        ("SHOW", "CHARSET", "LIKE", "'P'"), ("SHOW", "CHARSET"),
        ("SHOW", "CHARACTER", "SET", "LIKE", "'P'"), ("SHOW", "CHARACTER", "SET"),
    ]


def test_every_statement_the_dialect_accepts_has_a_topic() -> None:
    starts = [tuple(t.name.split()) for t in TOPICS] + [f for t in TOPICS for f in syntax_forms(t.syntax)]
    missing = [" ".join(key) for key in DorisBRParser.STATEMENTS if not any(s[: len(key)] == key for s in starts)]
    assert not missing, f"statements without a grammar/ topic (name or Syntax form): {missing}"


def test_every_handled_statement_has_an_example() -> None:
    # A handler's node class counts as covered when some topic's example parses into it; SHOW kinds that
    # sqlglot parses (exp.Show) likewise by their kind. New handlers thus need a topic with an example.
    statements = [s for t in TOPICS for block in t.examples for s in parse(block)]
    node_types = {type(s) for s in statements}
    show_kinds = {s.name.upper() for s in statements if isinstance(s, exp.Show)}
    missing = [f"{cls.__module__}.{cls.__name__}" for cls in HANDLERS if cls not in node_types]
    missing += [f"SHOW {kind}" for kind in SHOW_HANDLERS if kind.upper() not in show_kinds]
    assert not missing, f"handled statements that no grammar/ example shows: {missing}"


def test_topic_format_errors_name_the_problem() -> None:
    good = (grammar_dir() / "sync.md").read_text()
    assert parse_topic(good, "sync.md").name == "SYNC"
    examples, keywords = good.index("## Examples"), good.index("## Keywords")
    broken = {
        good.replace("## Keywords", "## Keys"): "unknown section 'Keys'",
        good.replace("# SYNC", "# Sync"): "upper case",
        good.replace("```sql\nSYNC;\n```", "SYNC;"): "outside a fenced block",
        good.replace("## Category\n\nDatabase Administration", "## Category\n\nA\nB"): "exactly one line",
        good.replace("## Syntax", "## Description\n\nx\n\n## Syntax", 1): "appears twice",
        good[: good.index("## Keywords")]: "missing section(s) Keywords",
        good[:examples] + good[keywords:] + "\n" + good[examples:keywords]: "must come in this order",
    }
    for text, message in broken.items():
        with pytest.raises(TopicFormatError, match=re.escape(message)):
            parse_topic(text, "sync.md")


# ---- lookups -----------------------------------------------------------------------------------------------


def _topic(name: str, category: tuple[str, ...], keywords: tuple[str, ...]) -> Topic:
    return Topic(name=name, category=category, syntax=name, description=f"About {name}.",
                 examples=(f"{name};",), keywords=keywords)


SMALL = HelpIndex.build([
    _topic("BACKUP", ("Backup and Restore",), ("BACKUP", "SNAPSHOT")),
    _topic("RESTORE", ("Backup and Restore",), ("RESTORE", "SNAPSHOT")),
    _topic("CREATE REPOSITORY", ("Backup and Restore", "Repository"), ("REPOSITORY",)),
    _topic("SNAPSHOT", ("Other",), ("X",)),
    _topic("KILL", ("Other",), ("KILL",)),
])


def test_lookup_exact_name_and_single_keyword() -> None:
    answer = SMALL.lookup("  create   Repository ")
    assert answer.columns == TOPIC_COLUMNS
    assert answer.rows == (("CREATE REPOSITORY", "Syntax:\nCREATE REPOSITORY\n\nAbout CREATE REPOSITORY.\n",
                            "CREATE REPOSITORY;\n"),)
    assert SMALL.lookup("repository").rows[0][0] == "CREATE REPOSITORY"


def test_lookup_name_wins_over_keyword() -> None:
    # SNAPSHOT is a topic and a keyword of two others: the topic answers, as in MySQL and Doris.
    assert SMALL.lookup("snapshot").rows[0][0] == "SNAPSHOT"


def test_lookup_keyword_of_several_topics_lists_them() -> None:
    index = HelpIndex.build([
        _topic("BACKUP", ("Backup",), ("SNAPSHOT", "BACKUP")), _topic("RESTORE", ("Restore",), ("SNAPSHOT",)),
        _topic("X", ("Snapshot",), ()), _topic("Y", ("Snapshot",), ("Z",)),
    ])
    answer = index.lookup("Snapshot")
    assert answer.columns == LIST_COLUMNS
    assert answer.rows == (("BACKUP", "N"), ("RESTORE", "N"), ("Snapshot", "Y"))


def test_lookup_category_lists_topics_and_subcategories() -> None:
    assert SMALL.lookup("backup and restore").rows == (("BACKUP", "N"), ("RESTORE", "N"), ("Repository", "Y"))
    assert SMALL.lookup("REPOSITORY ").rows[0][0] == "CREATE REPOSITORY"  # keyword first, then category
    assert SMALL.lookup("contents").rows == (("Backup and Restore", "Y"), ("Other", "Y"))


def test_lookup_category_spelled_in_different_cases() -> None:
    index = HelpIndex.build([_topic("A", ("Utility",), ()), _topic("B", ("UTILITY", "Sub"), ())])
    assert index.lookup("contents").rows == (("Utility", "Y"),)
    assert index.lookup("utility").rows == (("A", "N"), ("Sub", "Y"))


def test_lookup_nothing() -> None:
    assert SMALL.lookup("nosuchthing").columns == LIST_COLUMNS
    assert SMALL.lookup("nosuchthing").rows == ()


# ---- through the clients -----------------------------------------------------------------------------------


def mariadb_interactive(cluster: Cluster, *lines: str, timeout: float = 30.0) -> str:
    """The mariadb client at a terminal: in batch mode (-e) it keeps quiet about empty HELP answers."""
    main, child = pty.openpty()
    proc = subprocess.Popen(["mariadb", "-h127.0.0.1", f"-P{cluster.port}", "-uroot"], stdin=child, stdout=child,
                            stderr=child, close_fds=True)
    os.close(child)
    os.write(main, ("\n".join([*lines, "quit"]) + "\n").encode())
    output = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the client has exited and closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait()
        os.close(main)
    # Drop the terminal's colour and mode escapes and carriage returns.
    return re.sub(r"\x1b(\[[0-9;]*[A-Za-z]|\([A-Z0-9])", "", output.decode(errors="replace")).replace("\r", "")


def test_cli_help_topic_page(cluster: Cluster) -> None:
    result = cluster.mariadb("help create user")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Name: 'CREATE USER'\nDescription:\nSyntax:\nCREATE USER [IF NOT EXISTS] user_identity\n")
    assert "Creates an account." in out
    assert "Examples:\nCREATE USER 'jack';\n" in out


def test_cli_help_contents_lists_categories(cluster: Cluster) -> None:
    out = cluster.mariadb("help contents").stdout
    listed = [line.strip() for line in out.splitlines() if line.strip()]
    assert listed == sorted({t.category[0] for t in TOPICS})
    assert "Account Management" in listed and "Cluster Management" in listed


def test_cli_help_category_and_keyword_lists(cluster: Cluster) -> None:
    account = cluster.mariadb("help account management").stdout.split()
    assert "GRANT" in account and "REVOKE" in account
    privileges = [line.strip() for line in cluster.mariadb("help privileges").stdout.splitlines() if line.strip()]
    assert privileges == ["GRANT", "REVOKE", "SHOW GRANTS"]
    # A category with a sub-category: its topics, then the sub-category.
    backup = [line.strip() for line in cluster.mariadb("help backup and restore").stdout.splitlines()]
    assert "BACKUP" in backup and "SHOW SNAPSHOT" in backup and backup[-2:] == ["Repositories", ""]
    assert cluster.mariadb("help backup").stdout.startswith("Name: 'BACKUP'\nDescription:\nSyntax:\nBACKUP SNAPSHOT")


def test_cli_help_nothing_found(cluster: Cluster) -> None:
    batch = cluster.mariadb("help nosuchthing")
    assert (batch.returncode, batch.stdout, batch.stderr) == (0, "", "")  # batch mode prints nothing
    out = mariadb_interactive(cluster, "help nosuchthing", "help contents")
    assert "help nosuchthing\n\nNothing found\nPlease try to run 'help contents' for a list of all accessible topics" \
        in out
    assert "Many help items for your request exist." in out  # the contents list that follows


def test_cli_question_mark_and_backslash_h(cluster: Cluster) -> None:
    assert cluster.mariadb("? kill").stdout.startswith("Name: 'KILL'\n")
    assert cluster.mariadb("? create user").stdout.startswith("Name: 'CREATE USER'\n")
    assert cluster.mariadb("\\h sync").stdout.startswith("Name: 'SYNC'\n")


def test_cli_help_finds_the_role_statements(cluster: Cluster) -> None:
    page = cluster.mariadb("help create role").stdout
    assert page.startswith("Name: 'CREATE ROLE'\nDescription:\nSyntax:\nCREATE ROLE [IF NOT EXISTS] role_name")
    assert "Examples:\nCREATE ROLE analyst;\n" in page
    assert cluster.mariadb("help drop role").stdout.startswith("Name: 'DROP ROLE'\n")
    assert cluster.mariadb("help show roles").stdout.startswith("Name: 'SHOW ROLES'\n")
    listed = [line.strip() for line in cluster.mariadb("help role").stdout.splitlines() if line.strip()]
    assert listed == ["ALTER ROLE", "CREATE ROLE", "DROP ROLE", "GRANT", "REVOKE", "SHOW ROLES"]


def test_cli_lookups_ignore_case(cluster: Cluster) -> None:
    assert cluster.mariadb("HELP Show Backends").stdout.startswith("Name: 'SHOW BACKENDS'\n")
    assert cluster.mariadb("help SHOW all GRANTS").stdout.startswith("Name: 'SHOW GRANTS'\n")  # a keyword
    assert cluster.mariadb("help sHoW gRaNtS").stdout.startswith("Name: 'SHOW GRANTS'\n")


def _columns(cluster: Cluster, sql: str) -> tuple[list[str], list[tuple]]:
    with cluster.connect() as conn, conn.cursor() as cur:
        cur.execute(sql)
        return [d[0] for d in cur.description], list(cur.fetchall())


def test_reply_shapes_over_pymysql(cluster: Cluster) -> None:
    # Unquoted words, as typed into a program rather than the client, work as well as the client's quotes.
    names, rows = _columns(cluster, "HELP show backends")
    assert names == ["name", "description", "example"] and rows[0][0] == "SHOW BACKENDS"
    names, rows = _columns(cluster, "help 'user'")
    assert names == ["name", "is_it_category"] and ("CREATE USER", "N") in rows
    names, rows = _columns(cluster, "help 'contents'")
    assert names == ["name", "is_it_category"] and all(r[1] == "Y" for r in rows)
    assert _columns(cluster, 'help "nosuchthing"') == (["name", "is_it_category"], [])


def test_help_needs_no_privilege_and_not_empty(cluster: Cluster) -> None:
    cluster.query("CREATE USER IF NOT EXISTS 'help_reader' IDENTIFIED BY 'pw'")
    assert cluster.query("help 'grant'", user="help_reader", password="pw")[0][0] == "GRANT"
    result = cluster.mariadb("help ''")
    assert "Help empty info." in result.stderr


def flat(text: str) -> str:
    """A help page with its line breaks as spaces: phrases are looked for wherever the text wraps."""
    return " ".join(text.split())


def test_cli_help_changing_data(cluster: Cluster) -> None:
    """DELETE, UPDATE, CTAS, INSERT OVERWRITE, AUTO_INCREMENT, merge-on-write and sequence columns are found by
    name and by keyword, and their pages say what Doris does."""
    delete = cluster.mariadb("help delete").stdout
    assert delete.startswith("Name: 'DELETE'\nDescription:\nSyntax:\nDELETE FROM [db.]tbl")
    delete = flat(delete)
    for words in ("USING relation", "merge-on-write UNIQUE KEY table", "__DORIS_DELETE_SIGN__", "delete predicate",
                  "key columns only", "Examples: DELETE FROM sales.orders PARTITION (p202401) WHERE id = 3;"):
        assert words in delete, words
    update = cluster.mariadb("help update").stdout
    assert update.startswith("Name: 'UPDATE'\nDescription:\nSyntax:\nUPDATE [db.]tbl")
    update = flat(update)
    for words in ("[FROM relation", "Only unique table could be updated.", "sequence column", "UPDATE users SET"):
        assert words in update, words
    create = flat(cluster.mariadb("help create table").stdout)
    for words in ("AS query", "AUTO_INCREMENT[(start)]", '"enable_unique_key_merge_on_write" = "true" | "false"',
                  '"function_column.sequence_col" = "col"', '"function_column.sequence_type" = "type"',
                  "CREATE TABLE ... AS SELECT (CTAS)", "HASH(first column) BUCKETS 10",
                  "never moves the counter back"):
        assert words in create, words
    insert = flat(cluster.mariadb("help insert").stdout)
    assert "INSERT OVERWRITE TABLE [db.]tbl [PARTITION (p, ...) | PARTITION (*)]" in insert
    assert "INSERT OVERWRITE TABLE sales.daily_totals" in insert
    # Keywords: one topic answers with its page, several with the list.
    assert cluster.mariadb("help ctas").stdout.startswith("Name: 'CREATE TABLE'\n")
    assert cluster.mariadb("help auto_increment").stdout.startswith("Name: 'CREATE TABLE'\n")
    assert cluster.mariadb("help overwrite").stdout.startswith("Name: 'INSERT'\n")
    listed = cluster.mariadb("help merge-on-write").stdout.split("\n")
    assert [line.strip() for line in listed if line.strip()] == ["CREATE TABLE", "DELETE", "UPDATE"]
    assert cluster.mariadb("help alter table replace").stdout.startswith(
        "Name: 'ALTER TABLE REPLACE'\nDescription:\nSyntax:\nALTER TABLE [db.]tbl1 REPLACE WITH TABLE tbl2")
