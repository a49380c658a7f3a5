"""Backup and restore statements: repositories, BACKUP, RESTORE, SHOW BACKUP/RESTORE/SNAPSHOT, CANCEL, VERIFY.

The grammar is Doris's (shared/reference/doris-backup-restore.md section 1). Semantic checks (a db-qualified
table inside ON, duplicated tables or aliases) are the statements' business, so their errors read as Doris's.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from doris_br.sql.base import ParserBase, StatementNode

# ---- nodes -------------------------------------------------------------------------------------------------


class CreateRepository(StatementNode):
    """kind: S3 | HDFS | BROKER | LOCAL; broker: the broker's name for BROKER."""

    arg_types = {"this": True, "read_only": False, "kind": True, "broker": False, "location": True,
                 "properties": False}


class AlterRepository(StatementNode):
    arg_types = {"this": True, "properties": True}


class DropRepository(StatementNode):
    arg_types = {"this": True}


class ShowRepositories(StatementNode):
    arg_types = {}


class ShowCreateRepository(StatementNode):
    arg_types = {"this": True}


class TableRef(StatementNode):
    """One entry of ON / EXCLUDE: [db.]table [PARTITION (p, ...)] [AS alias]."""

    arg_types = {"this": True, "db": False, "partitions": False, "alias": False}


class BackupSnapshot(StatementNode):
    """label: the snapshot name; db: the database before it, if written; kind: ON | EXCLUDE."""

    arg_types = {"this": True, "db": False, "repo": True, "kind": False, "tables": False, "properties": False}


class RestoreSnapshot(StatementNode):
    arg_types = {"this": True, "db": False, "repo": True, "kind": False, "tables": False, "properties": False}


class ShowBackup(StatementNode):
    arg_types = {"db": False, "like": False, "where": False}


class ShowRestore(StatementNode):
    arg_types = {"db": False, "like": False, "where": False, "brief": False}


class ShowSnapshot(StatementNode):
    arg_types = {"this": True, "where": False}


class CancelBackup(StatementNode):
    arg_types = {"db": False}


class CancelRestore(StatementNode):
    arg_types = {"db": False}


class DropSnapshot(StatementNode):
    """where: the condition after WHERE (TIMESTAMP = '...'), checked by the statement."""

    arg_types = {"this": True, "repo": True, "where": False}


class VerifySnapshot(StatementNode):
    """Ours, not Doris's: check a stored snapshot (files, meta, data) without changing it."""

    arg_types = {"this": True, "db": False, "repo": True, "properties": False}


# ---- parser ------------------------------------------------------------------------------------------------


class BackupParser(ParserBase):
    def _parse_create_repository(self, read_only: bool = False) -> CreateRepository:
        name = self._parse_name("a repository name")
        self._expect_words("WITH")
        if not self._match_texts(("S3", "HDFS", "BROKER", "LOCAL", "AZURE")):
            self.raise_error("Expected S3, HDFS, BROKER broker_name or LOCAL")
        kind = self._prev.text.upper()
        broker = self._parse_name("a broker name") if kind == "BROKER" else None
        self._expect_words("ON", "LOCATION")
        location = self._parse_string_value("a quoted location")
        props = self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}
        return CreateRepository(this=name, read_only=read_only, kind=kind, broker=broker, location=location,
                                properties=props)

    def _parse_table_ref(self) -> TableRef:
        db, table = self._parse_qualified_name("a table name")
        partitions = None
        if self._match_texts(("PARTITION", "PARTITIONS")):
            self._expect_paren(TokenType.L_PAREN)
            partitions = [self._parse_name("a partition name")]
            while self._match(TokenType.COMMA):
                partitions.append(self._parse_name("a partition name"))
            self._expect_paren(TokenType.R_PAREN)
        alias = None
        if self._match(TokenType.ALIAS) or (
            self._curr and self._curr.token_type in (TokenType.VAR, TokenType.IDENTIFIER)
        ):
            alias = self._parse_name("an alias")
        return TableRef(this=table, db=db, partitions=partitions, alias=alias)

    def _parse_snapshot(self, node_type: type[StatementNode], preposition: str) -> StatementNode:
        self._expect_words("SNAPSHOT")
        db, label = self._parse_qualified_name("a snapshot label")
        self._expect_words(preposition)
        repo = self._parse_name("a repository name")
        kind = tables = None
        if self._match_texts(("ON", "EXCLUDE")):
            kind = self._prev.text.upper()
            tables = self._parse_wrapped_csv(self._parse_table_ref)
        props = self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}
        return node_type(this=label, db=db, repo=repo, kind=kind, tables=tables, properties=props)

    def _parse_from_db(self) -> str | None:
        if self._match_texts(("FROM", "IN")):
            return self._parse_name("a database name")
        return None

    def _parse_where_condition(self) -> exp.Expression | None:
        """A SHOW statement's WHERE: the condition alone (not sqlglot's _parse_where, which SELECT uses)."""
        if self._match(TokenType.WHERE):
            return self._parse_disjunction()
        return None

    def _parse_show_jobs(self, node_type: type[StatementNode], **extra: object) -> StatementNode:
        db = self._parse_from_db()
        like = self._parse_optional_like()
        where = None if like is not None else self._parse_where_condition()
        return node_type(db=db, like=like, where=where, **extra)

    def _parse_show_snapshot(self) -> ShowSnapshot:
        self._expect_words("ON")
        repo = self._parse_name("a repository name")
        return ShowSnapshot(this=repo, where=self._parse_where_condition())

    def _parse_drop_snapshot(self) -> DropSnapshot:
        label = self._parse_name("a snapshot label")
        self._expect_words("FROM")
        repo = self._parse_name("a repository name")
        return DropSnapshot(this=label, repo=repo, where=self._parse_where_condition())

    def _parse_verify_snapshot(self) -> VerifySnapshot:
        db, label = self._parse_qualified_name("a snapshot label")
        self._expect_words("FROM")
        repo = self._parse_name("a repository name")
        props = self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}
        return VerifySnapshot(this=label, db=db, repo=repo, properties=props)

    STATEMENTS = {
        **ParserBase.STATEMENTS,
        ("CREATE", "REPOSITORY"): _parse_create_repository,
        ("CREATE", "READ", "ONLY", "REPOSITORY"): lambda self: self._parse_create_repository(read_only=True),
        ("ALTER", "REPOSITORY"): lambda self: AlterRepository(
            this=self._parse_name("a repository name"),
            properties=self._parse_property_map() if self._match_text_seq("PROPERTIES") else {}),
        ("DROP", "REPOSITORY"): lambda self: DropRepository(this=self._parse_name("a repository name")),
        ("SHOW", "REPOSITORIES"): lambda self: ShowRepositories(),
        ("SHOW", "CREATE", "REPOSITORY", "FOR"): lambda self: ShowCreateRepository(
            this=self._parse_name("a repository name")),
        ("BACKUP",): lambda self: self._parse_snapshot(BackupSnapshot, "TO"),
        ("RESTORE",): lambda self: self._parse_snapshot(RestoreSnapshot, "FROM"),
        ("SHOW", "BACKUP"): lambda self: self._parse_show_jobs(ShowBackup),
        ("SHOW", "RESTORE"): lambda self: self._parse_show_jobs(ShowRestore, brief=False),
        ("SHOW", "BRIEF", "RESTORE"): lambda self: self._parse_show_jobs(ShowRestore, brief=True),
        ("SHOW", "SNAPSHOT"): _parse_show_snapshot,
        ("CANCEL", "BACKUP"): lambda self: CancelBackup(db=self._parse_from_db()),
        ("CANCEL", "RESTORE"): lambda self: CancelRestore(db=self._parse_from_db()),
        ("DROP", "SNAPSHOT"): _parse_drop_snapshot,
        ("VERIFY", "SNAPSHOT"): _parse_verify_snapshot,
    }
