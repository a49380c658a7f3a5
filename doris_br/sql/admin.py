"""Cluster and account statements: users, grants, backends, brokers, processes, HELP and MySQL-tool SHOWs."""

from __future__ import annotations

from sqlglot.tokens import TokenType

from doris_br.sql.base import ParserBase, StatementNode

# ---- nodes -------------------------------------------------------------------------------------------------


class UserIdentity(StatementNode):
    """'name'@'host'; `current` when written CURRENT_USER()."""

    arg_types = {"this": True, "host": False, "current": False}


class CreateUser(StatementNode):
    arg_types = {"this": True, "if_not_exists": False, "password": False, "hashed": False, "comment": False,
                 "default_role": False}


class DropUser(StatementNode):
    arg_types = {"this": True, "if_exists": False}


class SetPassword(StatementNode):
    """SET PASSWORD [FOR user] = PASSWORD('plain') | 'hash'."""

    arg_types = {"this": False, "password": True, "hashed": False}


class GrantPrivileges(StatementNode):
    """GRANT privs ON db.tbl TO user | ROLE 'r'; `revoke` for REVOKE ... FROM user | ROLE 'r'. `this` is the user,
    or `role` the role's name."""

    arg_types = {"privileges": True, "db": True, "table": True, "this": False, "role": False, "revoke": False}


class GrantRoles(StatementNode):
    """GRANT 'r1'[, 'r2'] TO user; `revoke` for REVOKE 'r1'[, ...] FROM user."""

    arg_types = {"roles": True, "this": True, "revoke": False}


class CreateRole(StatementNode):
    arg_types = {"this": True, "if_not_exists": False, "comment": False}


class AlterRole(StatementNode):
    arg_types = {"this": True, "comment": True}


class DropRole(StatementNode):
    arg_types = {"this": True, "if_exists": False}


class ShowRoles(StatementNode):
    arg_types = {}


class ShowGrants(StatementNode):
    arg_types = {"this": False, "all": False}


class ShowBackends(StatementNode):
    arg_types = {}


class ShowFrontends(StatementNode):
    arg_types = {}


class ShowBroker(StatementNode):
    arg_types = {}


class ShowProcesslist(StatementNode):
    arg_types = {"full": False}


class ShowCollation(StatementNode):
    arg_types = {"like": False}


class ShowCharset(StatementNode):
    arg_types = {"like": False}


class ShowEngines(StatementNode):
    arg_types = {}


class ShowFrontendConfig(StatementNode):
    arg_types = {"like": False}


class AdminSetFrontendConfig(StatementNode):
    arg_types = {"properties": True}


class AlterSystem(StatementNode):
    """ALTER SYSTEM ADD|DROP|DROPP|DECOMMISSION BACKEND 'h:p', ... / ADD|DROP BROKER name 'h:p', ..."""

    arg_types = {"action": True, "kind": True, "hosts": True, "name": False}


class Kill(StatementNode):
    arg_types = {"this": True, "query": False}


class Help(StatementNode):
    arg_types = {"this": True}


class Sync(StatementNode):
    arg_types = {}


# ---- parser ------------------------------------------------------------------------------------------------


class AdminParser(ParserBase):
    def _parse_user_identity(self) -> UserIdentity:
        if self._match(TokenType.CURRENT_USER):
            if self._match(TokenType.L_PAREN):
                self._expect_paren(TokenType.R_PAREN)
            return UserIdentity(this="", current=True)
        name = self._parse_name("a user name")
        host = "%"
        if self._curr and self._curr.token_type == TokenType.PARAMETER and self._curr.text == "@":
            self._advance()
            host = self._parse_name("a host")
        return UserIdentity(this=name, host=host)

    def _parse_password_clause(self) -> tuple[str | None, bool]:
        """IDENTIFIED BY [PASSWORD] 'x' -> (text, hashed)."""
        if not self._match_text_seq("IDENTIFIED", "BY"):
            return None, False
        hashed = self._match_text_seq("PASSWORD")
        return self._parse_string_value("a password"), hashed

    def _parse_create_user(self) -> CreateUser:
        if_not_exists = self._match_text_seq("IF", "NOT", "EXISTS")
        user = self._parse_user_identity()
        password, hashed = self._parse_password_clause()
        default_role = self._parse_name("a role") if self._match_text_seq("DEFAULT", "ROLE") else None
        comment = self._parse_string_value("a comment") if self._match_text_seq("COMMENT") else None
        return CreateUser(this=user, if_not_exists=if_not_exists, password=password, hashed=hashed,
                          comment=comment, default_role=default_role)

    def _parse_drop_user(self) -> DropUser:
        if_exists = self._match_text_seq("IF", "EXISTS")
        return DropUser(this=self._parse_user_identity(), if_exists=if_exists)

    def _parse_set_password(self) -> SetPassword:
        user = self._parse_user_identity() if self._match_text_seq("FOR") else None
        if not self._match(TokenType.EQ):
            self.raise_error("Expected =")
        if self._match_text_seq("PASSWORD"):
            self._expect_paren(TokenType.L_PAREN)
            password = self._parse_string_value("a password")
            self._expect_paren(TokenType.R_PAREN)
            return SetPassword(this=user, password=password, hashed=False)
        return SetPassword(this=user, password=self._parse_string_value("a password"), hashed=True)

    def _parse_privilege_target(self) -> tuple[str, str]:
        """db.tbl, db.*, *.*, or internal.db.tbl (Doris's catalog prefix)."""
        parts: list[str] = []
        while True:
            if self._match(TokenType.STAR):
                parts.append("*")
            else:
                parts.append(self._parse_name("a database name or *"))
            if not self._match(TokenType.DOT):
                break
        if len(parts) == 3 and parts[0].lower() == "internal":
            parts = parts[1:]
        if len(parts) == 1:
            parts = [parts[0], "*"]
        if len(parts) != 2 or (parts[0] == "*" and parts[1] != "*"):
            self.raise_error("Expected *.*, db.* or db.tbl")
        return parts[0], parts[1]

    def _parse_grant(self, revoke: bool = False) -> GrantPrivileges | GrantRoles:
        """GRANT privs ON target TO user | ROLE 'r', or GRANT 'r1'[, ...] TO user: a list of names, then ON for
        privileges or TO (FROM) for roles."""
        names = []
        while True:
            names.append(self._parse_name("a privilege or a role"))
            if not self._match(TokenType.COMMA):
                break
        to = "FROM" if revoke else "TO"
        if self._match_text_seq(to):
            return GrantRoles(roles=names, this=self._parse_user_identity(), revoke=revoke)
        self._expect_words("ON")
        db, table = self._parse_privilege_target()
        self._expect_words(to)
        privileges = [name.upper() for name in names]
        if self._match_text_seq("ROLE"):
            return GrantPrivileges(privileges=privileges, db=db, table=table, role=self._parse_name("a role"),
                                   revoke=revoke)
        user = self._parse_user_identity()
        return GrantPrivileges(privileges=privileges, db=db, table=table, this=user, revoke=revoke)

    def _parse_create_role(self) -> CreateRole:
        if_not_exists = self._match_text_seq("IF", "NOT", "EXISTS")
        name = self._parse_name("a role name")
        comment = self._parse_string_value("a comment") if self._match_text_seq("COMMENT") else None
        return CreateRole(this=name, if_not_exists=if_not_exists, comment=comment)

    def _parse_alter_role(self) -> AlterRole:
        name = self._parse_name("a role name")
        self._expect_words("COMMENT")
        return AlterRole(this=name, comment=self._parse_string_value("a comment"))

    def _parse_drop_role(self) -> DropRole:
        if_exists = self._match_text_seq("IF", "EXISTS")
        return DropRole(this=self._parse_name("a role name"), if_exists=if_exists)

    def _parse_show_grants(self, all_users: bool = False) -> ShowGrants:
        user = self._parse_user_identity() if self._match_text_seq("FOR") else None
        return ShowGrants(this=user, all=all_users)

    def _parse_alter_system(self) -> AlterSystem:
        if not self._match_texts(("ADD", "DROP", "DROPP", "DECOMMISSION")):
            self.raise_error("Expected ADD, DROP or DECOMMISSION")
        action = self._prev.text.upper()
        if not self._match_texts(("BACKEND", "BROKER")):
            self.raise_error("Expected BACKEND or BROKER")
        kind = self._prev.text.upper()
        name = self._parse_name("a broker name") if kind == "BROKER" else None
        hosts = [self._parse_string_value('"host:port"')]
        while self._match(TokenType.COMMA):
            hosts.append(self._parse_string_value('"host:port"'))
        return AlterSystem(action=action, kind=kind, hosts=hosts, name=name)

    def _parse_kill(self) -> Kill:
        query = self._match_text_seq("QUERY")
        self._match_text_seq("CONNECTION")
        token = self._curr
        if not token or token.token_type != TokenType.NUMBER:
            self.raise_error("Expected a connection id")
            return Kill(this=0)
        self._advance()
        return Kill(this=int(token.text), query=query)

    def _parse_help(self) -> Help:
        words = []
        while not self._at_end():
            words.append(self._curr.text)
            self._advance()
        if not words:
            self.raise_error("Expected a help topic")
        return Help(this=" ".join(words))

    STATEMENTS = {
        **ParserBase.STATEMENTS,
        ("CREATE", "USER"): _parse_create_user,
        ("DROP", "USER"): _parse_drop_user,
        ("SET", "PASSWORD"): _parse_set_password,
        ("CREATE", "ROLE"): _parse_create_role,
        ("ALTER", "ROLE"): _parse_alter_role,
        ("DROP", "ROLE"): _parse_drop_role,
        ("SHOW", "ROLES"): lambda self: ShowRoles(),
        ("GRANT",): _parse_grant,
        ("REVOKE",): lambda self: self._parse_grant(revoke=True),
        ("SHOW", "GRANTS"): _parse_show_grants,
        ("SHOW", "ALL", "GRANTS"): lambda self: self._parse_show_grants(all_users=True),
        ("SHOW", "BACKENDS"): lambda self: ShowBackends(),
        ("SHOW", "FRONTENDS"): lambda self: ShowFrontends(),
        ("SHOW", "BROKER"): lambda self: ShowBroker(),
        ("SHOW", "PROCESSLIST"): lambda self: ShowProcesslist(full=False),
        ("SHOW", "FULL", "PROCESSLIST"): lambda self: ShowProcesslist(full=True),
        ("SHOW", "COLLATION"): lambda self: ShowCollation(like=self._parse_optional_like()),
        ("SHOW", "CHARSET"): lambda self: ShowCharset(like=self._parse_optional_like()),
        ("SHOW", "CHARACTER", "SET"): lambda self: ShowCharset(like=self._parse_optional_like()),
        ("SHOW", "ENGINES"): lambda self: ShowEngines(),
        ("SHOW", "STORAGE", "ENGINES"): lambda self: ShowEngines(),
        ("SHOW", "FRONTEND", "CONFIG"): lambda self: ShowFrontendConfig(like=self._parse_optional_like()),
        ("ADMIN", "SHOW", "FRONTEND", "CONFIG"): lambda self: ShowFrontendConfig(like=self._parse_optional_like()),
        ("ADMIN", "SET", "FRONTEND", "CONFIG"): lambda self: AdminSetFrontendConfig(
            properties=self._parse_property_map()),
        ("ALTER", "SYSTEM"): _parse_alter_system,
        ("KILL",): _parse_kill,
        ("HELP",): _parse_help,
        ("SYNC",): lambda self: Sync(),
    }
