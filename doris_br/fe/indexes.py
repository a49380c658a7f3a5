"""Indexes of a table: Doris's validation, the text SHOW INDEX and SHOW CREATE TABLE print, the bloom filter
table properties, and MATCH_* predicates turned into DuckDB expressions over the column.

No index data is built: a MATCH predicate is answered by tokenising the column at query time exactly as the
index would have (so the result is right with or without an index, as Doris's
`enable_match_without_inverted_index`, default true, makes it). Tokenisers, by the inverted index's `parser`:
- none (no index, or no parser): the whole value is one term, compared as it is;
- english: runs of ASCII letters and digits, lower-cased unless `"lower_case" = "false"`;
- unicode / standard / chinese: runs of Unicode letters and digits, each Han character a term of its own
  (Lucene's StandardTokenizer's rule for ideographs; `chinese` has no dictionary here), lower-cased, and
  Lucene's English stop words left out unless `"stopwords" = "none"`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs
from sqlglot import exp

from doris_br.errors import DorisError
from doris_br.fe.olap import Table
from doris_br.schema import Column, Index, base_type

_INVERTED_KEYS = ("parser", "parser_mode", "support_phrase", "char_filter_type", "char_filter_pattern",
                  "char_filter_replacement", "ignore_above", "lower_case", "stopwords")
_STRING_TYPES = ("char", "varchar", "string")
_STRING_PARSERS = ("none", "standard", "unicode", "english", "chinese")
# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, which Doris's standard (unicode) analyzer drops by default.
STOP_WORDS = ("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
              "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
              "to", "was", "will", "with")
_SEP = "\x01"  # joins a column's terms for phrase matching; no tokeniser keeps it inside a term
# Han characters (CJK radicals, ideographs and their extensions), each a term of its own; the same ranges in
# Python (the query string) and in DuckDB's RE2 (the column), so both sides cut alike.
_HAN = ((0x2E80, 0x2FDF), (0x3005, 0x3007), (0x3021, 0x3029), (0x3038, 0x303B), (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
_HAN_PY = "[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _HAN) + "]"
_HAN_RE2 = "[" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in _HAN) + "]"


# ---- how Doris prints properties ---------------------------------------------------------------------------


def _java_hash(text: str) -> int:
    """String.hashCode, over UTF-16 code units, as an unsigned 32-bit value."""
    data = text.encode("utf-16-le")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] | data[i + 1] << 8)) & 0xFFFFFFFF
    return h


def java_hash_order(props: dict[str, str]) -> dict[str, str]:
    """The order a java.util.HashMap copied from these properties iterates them in: Doris keeps an index's
    properties in one (Index.clone copies it) and prints them (SHOW INDEX, SHOW CREATE TABLE) in its order.
    A copy of n entries has the smallest power of two >= int(n / 0.75 + 1) buckets; keys sharing a bucket keep
    their order. (Checked against Doris's own output: `"bf_size" = "256", "gram_size" = "2"` and
    `"support_phrase" = "true", "parser" = "unicode", "lower_case" = "true"`.)"""
    wanted = int(len(props) / 0.75 + 1)
    capacity = 1
    while capacity < wanted:
        capacity *= 2

    def bucket(key: str) -> int:
        h = _java_hash(key)
        return (h ^ (h >> 16)) & (capacity - 1)

    keys = list(props)
    return {k: props[k] for k in sorted(keys, key=lambda k: (bucket(k), keys.index(k)))}


def properties_text(index: Index) -> str:
    """Index.getPropertiesString: `("k" = "v", "k2" = "v2")`, or nothing."""
    if not index.properties:
        return ""
    return "(" + ", ".join(f'"{k}" = "{v}"' for k, v in index.properties) + ")"


@attrs.frozen
class Listed:
    """One index as SHOW INDEX and information_schema.statistics list it, so the two always agree: SHOW INDEX
    gives it one row (its columns joined by commas, as Doris's ShowIndexStmt), STATISTICS one row per column."""

    name: str
    columns: tuple[str, ...]
    type: str
    comment: str
    properties: str

    def show_row(self, table: str) -> tuple:
        """SHOW INDEX's row: Doris leaves Non_unique, Seq_in_index, Collation ... Null empty."""
        return (table, "", self.name, "", ",".join(self.columns), "", "", "", "", "", self.type, self.comment,
                self.properties)


def listed_indexes(table: Table) -> list[Listed]:
    """The table's indexes in creation order (bloom filter columns are table properties, not listed)."""
    return [Listed(i.name, i.columns, i.type, i.comment, properties_text(i)) for i in table.indexes]


def index_sql(index: Index) -> str:
    """Index.toSql, as SHOW CREATE TABLE prints each index after the columns."""
    text = f"INDEX {index.name} (" + ",".join(f"`{c}`" for c in index.columns) + f") USING {index.type}"
    if index.properties:
        text += " PROPERTIES" + properties_text(index)
    if index.comment.strip():
        text += " COMMENT '" + index.comment.replace("'", "\\'") + "'"
    return text


# ---- validation (Nereids IndexDefinition, CreateTableInfo, InvertedIndexUtil) ------------------------------


def _doris_type_name(column: Column) -> str:
    return base_type(column.type).upper()


def _check_inverted_properties(props: dict[str, str]) -> None:
    for key in props:
        if key not in _INVERTED_KEYS:
            raise DorisError(f"invalid INVERTED index:Invalid inverted index property key: {key}")
    parser, mode = props.get("parser"), props.get("parser_mode")
    if parser is not None and parser not in _STRING_PARSERS:
        raise DorisError(f"invalid INVERTED index:Invalid inverted index 'parser' value: {parser}, parser must be "
                         "none, english, unicode or chinese")
    if parser != "chinese" and mode is not None:
        raise DorisError("invalid INVERTED index:parser_mode is only available for chinese parser")
    if mode is not None and mode not in ("fine_grained", "coarse_grained"):
        raise DorisError(f"invalid INVERTED index:Invalid inverted index 'parser_mode' value: {mode}, parser_mode "
                         "must be fine_grained or coarse_grained")
    for key in ("support_phrase", "lower_case"):
        if key in props and props[key] not in ("true", "false"):
            raise DorisError(f"invalid INVERTED index:Invalid inverted index '{key}' value: {props[key]}, {key} "
                             "must be true or false")
    if props.get("char_filter_type") == "char_replace" and not props.get("char_filter_pattern"):
        raise DorisError("invalid INVERTED index:Missing 'char_filter_pattern' for 'char_replace' filter type")
    if "ignore_above" in props:
        if not re.fullmatch(r"[+-]?\d{1,9}", props["ignore_above"]):
            raise DorisError("invalid INVERTED index:Invalid inverted index 'ignore_above' value, ignore_above "
                             "must be integer")
        if int(props["ignore_above"]) <= 0:
            raise DorisError(f"invalid INVERTED index:Invalid inverted index 'ignore_above' value: "
                             f"{int(props['ignore_above'])}, ignore_above must be positive")
    if "stopwords" in props and props["stopwords"] != "none":
        raise DorisError(f"invalid INVERTED index:Invalid inverted index 'stopWords' value: {props['stopwords']}, "
                         "stopWords must be none")


def _check_ngram_properties(props: dict[str, str]) -> None:
    if len(props) != 2 or set(props) != {"gram_size", "bf_size"}:
        raise DorisError("ngram_bf index should have gram_size and bf_size properties")
    for key in ("gram_size", "bf_size"):
        if not re.fullmatch(r"[+-]?\d{1,9}", props[key]):
            raise DorisError(f"invalid ngram bf index params:invalid ngram properties:For input string: "
                             f"\"{props[key]}\"")
    if not 1 <= int(props["gram_size"]) <= 256:
        raise DorisError("invalid ngram bf index params:gram_size should be integer and less than 256")
    if not 64 <= int(props["bf_size"]) <= 65536:
        raise DorisError("invalid ngram bf index params:bf_size should be integer and between 64 and 65536")


def _check_column(index: Index, column: Column, keys_type: str) -> None:
    if not column.is_key and keys_type == "AGG_KEYS":
        raise DorisError("index should only be used in columns of DUP_KEYS/UNIQUE_KEYS table or key columns of "
                         f"AGG_KEYS table. invalid index: {index.name}")
    is_string = base_type(column.type) in _STRING_TYPES
    if index.type == "INVERTED":
        _check_inverted_properties(index.props)
        parser = index.props.get("parser", "none")
        if not is_string and parser != "none":
            raise DorisError(f"invalid INVERTED index:INVERTED index with parser: {parser} is not supported for "
                             f"column: {column.name} of type {_doris_type_name(column)}")
    elif index.type == "NGRAM_BF":
        if not is_string:
            raise DorisError(f"{_doris_type_name(column)} is not supported in ngram_bf index. invalid column: "
                             f"{column.name}")
        _check_ngram_properties(index.props)


def stored(index: Index, index_id: int, columns: Iterable[Column]) -> Index:
    """The catalog's form, after validation: column names as the table spells them, Doris's added properties,
    HashMap order."""
    by_name = {c.name.lower(): c.name for c in columns}
    props = index.props
    if index.type == "INVERTED" and props:
        props.setdefault("lower_case", "true")
    return attrs.evolve(index, id=index_id, columns=tuple(by_name[c.lower()] for c in index.columns),
                        properties=java_hash_order(props))


def check_index(index: Index, columns: tuple[Column, ...], keys_type: str) -> None:
    """One index against the table's columns (IndexDefinition.validate and checkColumn)."""
    if index.type in ("BITMAP", "INVERTED"):
        if len(index.columns) != 1:
            raise DorisError(f"{index.type} index can only apply to a single column.")
        if not index.name:
            raise DorisError("index name cannot be blank.")
        if len(index.name) > 64:
            raise DorisError("index name too long, the index name length at most is 64.")
    by_name = {c.name.lower(): c for c in columns}
    for name in index.columns:
        column = by_name.get(name.lower())
        if column is None:
            raise DorisError(f"Column does not exist in table. invalid column: {name}")
        _check_column(index, column, keys_type)


def check_table_indexes(indexes: tuple[Index, ...], columns: tuple[Column, ...], keys_type: str) -> None:
    """CREATE TABLE's indexes: each valid, names unique, no two of one type on the same columns."""
    for index in indexes:
        check_index(index, columns, keys_type)
    if len({i.name.lower() for i in indexes}) != len(indexes):
        raise DorisError("index name must be unique.")
    if len({(i.type, tuple(c.upper() for c in i.columns)) for i in indexes}) != len(indexes):
        raise DorisError("same index columns have multiple same type index is not allowed.")
    check_bloom_conflicts(indexes, ())


def check_bloom_conflicts(indexes: Iterable[Index], bloom_columns: Iterable[str]) -> None:
    """Index.checkConflict: a column has at most one n-gram or plain bloom filter."""
    seen: set[str] = set()
    for column in [c for i in indexes if i.type == "NGRAM_BF" for c in i.columns] + list(bloom_columns):
        if column.lower() in seen:
            raise DorisError(f"{column.lower()} should have only one ngram bloom filter index or bloom filter index")
        seen.add(column.lower())


# ---- bloom filter table properties (PropertyAnalyzer.analyzeBloomFilterColumns / Fpp) ----------------------

_BLOOM_REFUSED = ("tinyint", "float", "double", "boolean")


def check_bloom_properties(props: dict[str, str], columns: tuple[Column, ...], keys_type: str,
                           indexes: Iterable[Index]) -> dict[str, str]:
    """The table's properties with `bloom_filter_columns` checked and written as Doris keeps it (sorted, ", ")."""
    out = dict(props)
    if "bloom_filter_fpp" in props:
        text = props["bloom_filter_fpp"]
        try:
            fpp = float(text)
        except ValueError:
            raise DorisError(f"Bloom filter fpp is not Double: {text}") from None
        if not 0.0001 <= fpp <= 0.05:
            raise DorisError("Bloom filter fpp should in [0.0001, 0.05]")
    if "bloom_filter_columns" not in props:
        return out
    names = [c.strip() for c in props["bloom_filter_columns"].split(",") if c.strip()]
    by_name = {c.name.lower(): c for c in columns}
    found: list[str] = []
    for name in names:
        column = by_name.get(name.lower())
        if column is None:
            raise DorisError(f"Bloom filter column does not exist in table. invalid column: {name}")
        if base_type(column.type) in _BLOOM_REFUSED:
            raise DorisError(f"{_doris_type_name(column)} is not supported in bloom filter index. invalid column: "
                             f"{name}")
        if keys_type == "AGG_KEYS" and not column.is_key:
            raise DorisError("Bloom filter index should only be used in columns of UNIQUE_KEYS/DUP_KEYS table or "
                             f"key columns of AGG_KEYS table. invalid column: {name}")
        if column.name.lower() in (f.lower() for f in found):
            raise DorisError(f"Reduplicated bloom filter column: {name}")
        found.append(column.name)
    check_bloom_conflicts(indexes, found)
    out["bloom_filter_columns"] = ", ".join(sorted(found))
    return out


# ---- MATCH predicates --------------------------------------------------------------------------------------


@attrs.frozen
class Tokeniser:
    """How one column's values become terms: the column's inverted index's parser, or none."""

    parser: str = "none"
    lower_case: bool = True
    stop_words: bool = True

    @classmethod
    def of(cls, index: Index | None) -> Tokeniser:
        if index is None:
            return cls()
        props = index.props
        parser = props.get("parser", "none")
        return cls(parser=parser, lower_case=props.get("lower_case", "true") == "true",
                   stop_words=props.get("stopwords") != "none")

    def terms(self, text: str) -> list[str]:
        """The query string's terms, as the column's would be."""
        if self.parser == "none":
            return [text]
        if self.lower_case:
            text = text.lower()
        if self.parser == "english":
            return re.findall(r"[A-Za-z0-9]+", text)
        spaced = re.sub(f"({_HAN_PY})", r" \1 ", text)
        words = re.findall(r"[^\W_]+", spaced)
        return [w for w in words if not (self.stop_words and w in STOP_WORDS)]

    def sql_terms(self, column: exp.Expression) -> exp.Expression:
        """A DuckDB list of the column's terms."""
        value: exp.Expression = exp.cast(column.copy(), "VARCHAR")
        if self.lower_case:
            value = exp.Lower(this=value)
        if self.parser == "english":
            return _fn("regexp_extract_all", value, exp.Literal.string("[A-Za-z0-9]+"))
        spaced = _fn("regexp_replace", value, exp.Literal.string(f"({_HAN_RE2})"), exp.Literal.string(r" \1 "),
                     exp.Literal.string("g"))
        terms = _fn("regexp_extract_all", spaced, exp.Literal.string(r"[\pL\pN]+"))
        if not self.stop_words:
            return terms
        return _fn("list_filter", terms, exp.Lambda(
            this=exp.Not(this=exp.In(this=exp.column("__t"), expressions=[exp.Literal.string(w) for w in STOP_WORDS])),
            expressions=[exp.to_identifier("__t")]))


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _terms_list(terms: list[str]) -> exp.Expression:
    return exp.Array(expressions=[exp.Literal.string(t) for t in terms])


def match_sql(kind: str, column: exp.Expression, query: str, tokeniser: Tokeniser) -> exp.Expression:
    """The predicate as a DuckDB expression; NULL where the column is NULL, as Doris."""
    if kind == "MATCH_PHRASE_EDGE":
        raise DorisError("FunctionMatchPhraseEdge not support execute_match")
    if kind == "MATCH_REGEXP":
        pattern = exp.Literal.string(query)
        if tokeniser.parser == "none":
            return _fn("regexp_matches", exp.cast(column.copy(), "VARCHAR"), pattern)
        matching = _fn("list_filter", tokeniser.sql_terms(column), exp.Lambda(
            this=_fn("regexp_matches", exp.column("__t"), pattern), expressions=[exp.to_identifier("__t")]))
        return exp.GT(this=_fn("len", matching), expression=exp.Literal.number(0))
    terms = tokeniser.terms(query)
    if tokeniser.parser == "none":
        value = exp.cast(column.copy(), "VARCHAR")
        if kind == "MATCH_PHRASE_PREFIX":
            return _fn("starts_with", value, exp.Literal.string(query))
        return exp.EQ(this=value, expression=exp.Literal.string(query))
    if not terms:  # nothing to look for: no row matches (Doris answers an empty result)
        return exp.And(this=exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())),
                       expression=exp.false())
    column_terms = tokeniser.sql_terms(column)
    if kind == "MATCH_ANY":
        return _fn("list_has_any", column_terms, _terms_list(terms))
    if kind == "MATCH_ALL":
        return _fn("list_has_all", column_terms, _terms_list(terms))
    # Phrases: the terms, in order and next to each other; a prefix phrase's last term may go on.
    joined = exp.DPipe(this=exp.DPipe(this=exp.Literal.string(_SEP), expression=_fn(
        "array_to_string", column_terms, exp.Literal.string(_SEP))), expression=exp.Literal.string(_SEP))
    needle = _SEP + _SEP.join(terms) + ("" if kind == "MATCH_PHRASE_PREFIX" else _SEP)
    return _fn("contains", joined, exp.Literal.string(needle))


def inverted_index(table: Table, column: str) -> Index | None:
    return next((i for i in table.indexes if i.type == "INVERTED" and i.columns[0].lower() == column.lower()), None)


def resolve_matches(query: exp.Expression, tables: dict[str, list[Table]], without_index: bool = True) -> None:
    """Every MATCH predicate of a planned query replaced by its DuckDB expression, tokenised as the column's
    inverted index says. `tables`: the tables behind each name the query uses (a view's: the tables it reads,
    the column found by its name there). `without_index` false (enable_match_without_inverted_index): one on
    a column without an inverted index is Doris's error."""
    for node in list(query.find_all(exp.Match)):
        target, text = node.this, node.expression
        kind = "MATCH_" + (node.args.get("kind") or "ANY").upper()
        column = target.this if isinstance(target, exp.Cast) else target
        if not isinstance(column, exp.Column) or not isinstance(text, (exp.Literal, exp.Null)):
            raise DorisError("Only support match left operand is SlotRef, right operand is Literal. But meet "
                             f"expression {target.sql(dialect='doris')} {kind} {text.sql(dialect='doris')}")
        if isinstance(text, exp.Null):  # matches nothing, not even NULL
            node.replace(exp.Null())
            continue
        owners = {t.id: t for alias, behind in tables.items() for t in behind
                  if (not column.table or alias == column.table.lower())
                  and any(c.name.lower() == column.name.lower() for c in t.columns)}
        index = inverted_index(next(iter(owners.values())), column.name) if len(owners) == 1 else None
        if index is None and not without_index:
            raise DorisError(f"[E-6001]{kind.lower()} not support execute_match")
        tokeniser = Tokeniser.of(index)
        node.replace(match_sql(kind, target, str(text.this), tokeniser))
