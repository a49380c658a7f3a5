"""DELETE / UPDATE syntax sqlglot does not read the way Doris writes it: a partition named without parentheses
(`DELETE FROM t PARTITION p1 WHERE ...`, Doris's `PARTITION identifier` form of partitionSpec)."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import TokenType

from doris_br.sql.base import ParserBase


class DmlParser(ParserBase):
    def _parse_partition(self) -> exp.Partition | None:
        index = self._index
        if not self._match_texts(self.PARTITION_KEYWORDS):
            return None
        if self._prev.text.upper() == "PARTITION" and self._curr is not None \
                and self._curr.token_type != TokenType.L_PAREN and self._curr.text.upper() != "BY":
            name = self._parse_id_var(any_token=False)
            if name is None:
                self._retreat(index)
                return None
            return self.expression(exp.Partition(subpartition=False, expressions=[exp.Column(this=name)]))
        self._retreat(index)
        return super()._parse_partition()
