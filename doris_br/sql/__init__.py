"""Our SQL dialect: Doris's sqlglot dialect extended with the statements this server implements.

`parse(sql)` is the single entry point; the statement families live one per module (admin, ...), each
holding its node classes and the parser mixin that builds them, composed in dialect.py.
"""

from doris_br.sql.dialect import DorisBR, parse

__all__ = ["DorisBR", "parse"]
