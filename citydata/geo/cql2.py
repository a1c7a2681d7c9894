"""OGC CQL2 filters (OGC 21-065) for OGC API - Features Part 3, compiled to DuckDB SQL.

Covers the Basic CQL2 and Advanced Comparison Operators conformance classes in both encodings,
CQL2-text (``parse_text``) and CQL2-JSON (``parse_json``). Both give the same small AST, which
``compile_duckdb`` turns into a parameterised WHERE expression checked against the collection's
column types. Spatial/temporal/array predicates, functions and arithmetic are refused with a
message pointing at the ``bbox``/``datetime`` parameters, which already cover place and time.

The filter comes straight from a URL, so every problem with it is a ``QueryError`` a person can
act on: input size and nesting depth are capped, and long AND/OR chains are parsed by loops.
Negated forms (``NOT LIKE``, ``IS NOT NULL`` ...) become ``Not(...)`` so that both encodings of
the same filter give equal trees.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from citydata.datastore.engine import NUMERIC_TYPES, quote_ident
from citydata.errors import QueryError

MAX_TEXT = 20_000
MAX_DEPTH = 50

Value = str | int | float | bool | date | datetime


@dataclass(frozen=True)
class Node:
    """Base of the filter AST."""


@dataclass(frozen=True)
class Property(Node):
    name: str


@dataclass(frozen=True)
class Literal(Node):
    value: Value  # datetimes are always timezone-aware UTC


@dataclass(frozen=True)
class Compare(Node):
    op: str  # one of COMPARISONS
    left: Node
    right: Node


@dataclass(frozen=True)
class Like(Node):
    operand: Node
    pattern: str  # % and _ are wildcards, \ escapes


@dataclass(frozen=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node


@dataclass(frozen=True)
class In(Node):
    operand: Node
    items: tuple[Node, ...]


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node


@dataclass(frozen=True)
class And(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    arg: Node


COMPARISONS = ("=", "<>", "<", ">", "<=", ">=")
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL"}
_GEOMETRY = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
             "GEOMETRYCOLLECTION", "BBOX", "ENVELOPE", "INTERVAL", "GEOMETRY"}  # fmt: skip
_ARITHMETIC = {"+", "-", "*", "/", "%", "^", "div"}


def _unsupported(op: str) -> QueryError:
    name = op.upper()[:40]
    if op in _ARITHMETIC or name == "DIV":
        name = f"Arithmetic ('{op}')"
    elif name in _GEOMETRY or name[:2] in ("S_", "T_", "A_"):
        name = f"{name} (a spatial, temporal or array expression)"
    else:
        name = f"The function {name}()"
    return QueryError(
        f"{name} is not supported in filters here: only comparisons, LIKE, BETWEEN, IN and "
        "IS NULL are (no spatial or temporal predicates, functions or arithmetic). "
        "Use the bbox parameter to filter by place and the datetime parameter to filter by time."
    )


def _number(v: int | float | str) -> int | float:
    """A numeric literal as int when it fits DuckDB's BIGINT, else as a finite float."""
    try:
        # int() of a very long digit string is itself an error; float() has no such limit.
        if isinstance(v, str) and not re.search(r"[.eE]", v) and len(v.lstrip("+-")) <= 19:
            v = int(v)
        if isinstance(v, int) and -(2**63) <= v < 2**63:
            return v
        f = float(v)
    except (ValueError, OverflowError):
        f = math.inf
    if not math.isfinite(f):
        shown = f" {v[:40]}" if isinstance(v, str) else ""  # str(huge int) would raise too
        raise QueryError(f"The number{shown} is out of range (at most about 1.8e308).")
    return f


_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)?")


def _instant(text: str, want: str) -> date | datetime:
    """An ISO 8601 date or timestamp; ``want`` is "date", "timestamp" or "either". CQL2 wants
    timestamps in UTC with a Z; other offsets are converted and a missing zone means UTC."""
    try:
        if want != "timestamp" and _DATE.fullmatch(text):
            return date.fromisoformat(text)
        if want != "date" and (m := _STAMP.fullmatch(text)):
            main, frac, zone = m.groups()
            zone = "+00:00" if zone in (None, "Z", "z") else zone
            stamp = datetime.fromisoformat(f"{main.upper()}{(frac or '')[:7]}{zone}")
            return stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    example = "2024-01-31T10:00:00Z" if want == "timestamp" else "2024-01-31"
    kind = "date" if want == "either" else want
    raise QueryError(f"'{text[:60]}' is not a valid {kind}; use ISO 8601, e.g. '{example}'.")


# --- CQL2-text ------------------------------------------------------------------------------

_NONSPACE = re.compile(r"\S")
_TOKEN = re.compile(  # possessive quoted strings, so long literals cannot backtrack
    r"(?P<string>'(?:[^']|'')*+')|(?P<qident>\"(?:[^\"]|\"\")*+\")"
    r"|(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<ident>(?:[^\W\d]|:)[\w:.]*)|(?P<op><=|>=|<>|!=|[=<>(),+\-*/%^\[\]{}])"
)


class _Tok(NamedTuple):
    kind: str  # string, qident, number, ident, op or end
    text: str
    pos: int  # 1-based, as a person counts

    def show(self) -> str:
        return "the end of the filter" if self.kind == "end" else f"'{self.text[:40]}'"


def _malformed(pos: int, why: str) -> QueryError:
    return QueryError(f"Malformed CQL2 filter at position {pos}: {why}")


def _tokens(text: str) -> list[_Tok]:
    out, i = [], 0
    while start := _NONSPACE.search(text, i):
        i = start.start()
        m = _TOKEN.match(text, i)
        if m is None:
            c = text[i]
            what = {"'": "string", '"': "quoted property name"}.get(c)
            why = f"unterminated {what} (write {c} inside it as {c}{c})" if what else ""
            raise _malformed(i + 1, why or f"unexpected character '{c}'")
        kind, value = m.lastgroup or "", m.group()
        if kind in ("string", "qident"):
            value = value[1:-1].replace(value[0] * 2, value[0])
        out.append(_Tok(kind, value, i + 1))
        i = m.end()
    out.append(_Tok("end", "", len(text) + 1))
    return out


class _TextParser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)  # stay on the end token
        return tok

    def accept(self, word: str) -> bool:
        tok = self.peek()
        if tok.kind in ("ident", "op") and tok.text.upper() == word:
            self.take()
            return True
        return False

    def expect(self, word: str, why: str) -> None:
        if not self.accept(word):
            raise _malformed(self.peek().pos, f"{why}, found {self.peek().show()}")

    def boolean(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise _malformed(self.peek().pos, f"the filter is nested more than {MAX_DEPTH} deep")
        ors: list[Node] = []
        while True:
            ands = [self.factor(depth)]
            while self.accept("AND"):
                ands.append(self.factor(depth))
            ors.append(ands[0] if len(ands) == 1 else And(tuple(ands)))
            if not self.accept("OR"):
                return ors[0] if len(ors) == 1 else Or(tuple(ors))

    def factor(self, depth: int) -> Node:
        start = self.peek()
        if self.accept("NOT"):
            if depth >= MAX_DEPTH:
                raise _malformed(start.pos, f"the filter is nested more than {MAX_DEPTH} deep")
            return Not(self.factor(depth + 1))
        if self.accept("("):
            node = self.boolean(depth + 1)
            self.expect(")", f"expected ')' to close the '(' at position {start.pos}")
            return node
        return self.predicate()

    def predicate(self) -> Node:
        left = self.scalar("at the start of a condition")
        tok = self.peek()
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.take()
            return Compare(tok.text, left, self.scalar(f"after '{tok.text}'"))
        if tok.text == "!=":
            raise _malformed(tok.pos, "use <> for 'not equal'")
        if self.accept("IS"):
            negated = self.accept("NOT")
            self.expect("NULL", "expected NULL or NOT NULL after IS")
            return Not(IsNull(left)) if negated else IsNull(left)
        negated = self.accept("NOT")
        node: Node
        if self.accept("LIKE"):
            pattern = self.take()
            if pattern.kind != "string":
                raise _malformed(pattern.pos, f"LIKE needs a pattern in single quotes, found "
                                 f"{pattern.show()}")  # fmt: skip
            node = Like(left, pattern.text)
        elif self.accept("BETWEEN"):
            low = self.scalar("after BETWEEN")
            self.expect("AND", "expected AND between the two BETWEEN bounds")
            node = Between(left, low, self.scalar("after BETWEEN ... AND"))
        elif self.accept("IN"):
            self.expect("(", "expected '(' to start the IN list")
            items = [self.scalar("in the IN list")]
            while self.accept(","):
                items.append(self.scalar("after ',' in the IN list"))
            self.expect(")", "expected ',' or ')' in the IN list")
            node = In(left, tuple(items))
        elif negated:
            raise _malformed(self.peek().pos, f"expected LIKE, BETWEEN or IN after NOT, found "
                             f"{self.peek().show()}")  # fmt: skip
        elif isinstance(left, Literal) and isinstance(left.value, bool):
            return left  # a bare TRUE/FALSE is a condition in its own right
        else:
            name = left.name if isinstance(left, Property) else ""
            hint = f" (for a boolean property write {name} = TRUE)" if name else ""
            raise _malformed(tok.pos, "expected a comparison (=, <>, <, >, <=, >=, LIKE, "
                             f"BETWEEN, IN or IS NULL), found {tok.show()}{hint}")  # fmt: skip
        return Not(node) if negated else node

    def scalar(self, where: str) -> Node:
        node = self.value(where)
        after = self.peek()
        if after.kind == "op" and after.text in _ARITHMETIC:
            raise _unsupported(after.text)
        return node

    def value(self, where: str) -> Node:
        tok = self.take()
        word = tok.text.upper() if tok.kind == "ident" else ""
        if tok.kind == "string":
            return Literal(tok.text)
        if tok.kind == "number":
            return Literal(_number(tok.text))
        if tok.text in ("+", "-") and self.peek().kind == "number":
            return Literal(_number(tok.text + self.take().text))
        if tok.kind == "qident" and tok.text:
            return Property(tok.text)
        if word in ("TRUE", "FALSE"):
            return Literal(word == "TRUE")
        if word in _KEYWORDS or not word:
            raise _malformed(tok.pos, f"expected a value {where}, found {tok.show()}")
        if self.peek().text == "(":
            if word not in ("DATE", "TIMESTAMP"):
                raise _unsupported(word)
            self.take()
            arg = self.take()
            if arg.kind != "string":
                example = "2024-01-31T10:00:00Z" if word == "TIMESTAMP" else "2024-01-31"
                raise _malformed(arg.pos, f"{word}() needs a quoted value, e.g. "
                                 f"{word}('{example}')")  # fmt: skip
            self.expect(")", f"expected ')' to close {word}(")
            return Literal(_instant(arg.text, word.lower()))
        return Property(tok.text)  # DATE without '(' is a name too: "date" is a common column


def parse_text(text: str) -> Node:
    """Parse a CQL2-text filter, e.g. ``name LIKE 'Lon%' AND pop > 1e6``."""
    if not isinstance(text, str):
        raise QueryError("A CQL2-text filter must be a string.")
    if len(text) > MAX_TEXT:
        raise QueryError(f"The filter is too long ({len(text)} characters; at most {MAX_TEXT}).")
    parser = _TextParser(text)
    if parser.peek().kind == "end":
        raise QueryError("The filter is empty.")
    node = parser.boolean(1)
    tok = parser.peek()
    if tok.kind != "end":
        raise _malformed(tok.pos, f"expected AND, OR or the end of the filter, found {tok.show()}")
    return node


# --- CQL2-JSON ------------------------------------------------------------------------------


def _jerr(where: str, why: str) -> QueryError:
    return QueryError(f"Malformed CQL2-JSON filter at {where or 'the top level'}: {why}")


_ARITY = {**dict.fromkeys(COMPARISONS, 2), "like": 2, "between": 3, "in": 2, "isnull": 1}


def _jargs(doc: dict[str, object], op: str, where: str, count: int) -> list[object]:
    """The ``args`` of ``doc``: exactly ``count`` of them, or at least two if ``count`` is 0."""
    args = doc.get("args")
    if not isinstance(args, list) or (len(args) != count if count else len(args) < 2):
        need = f"{count} argument{'s' * (count != 1)}" if count else "at least two arguments"
        raise _jerr(where, f"'{op}' needs \"args\" with {need}")
    return args


def _json_bool(doc: object, where: str, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise _jerr(where, f"the filter is nested more than {MAX_DEPTH} deep")
    if isinstance(doc, bool):
        return Literal(doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("op"), str):
        raise _jerr(where, 'expected a condition such as {"op": "=", "args": [...]}')
    op = str(doc["op"]).lower()
    at = [f"{where}.args[{i}]".lstrip(".") for i in range(3)]
    if op in ("and", "or", "not"):
        args = _jargs(doc, op, where, 1 if op == "not" else 0)
        parts = tuple(_json_bool(a, f"{where}.args[{i}]".lstrip("."), depth + 1)
                      for i, a in enumerate(args))  # fmt: skip
        return Not(parts[0]) if op == "not" else And(parts) if op == "and" else Or(parts)
    if op not in _ARITY:
        raise _unsupported(op)
    args = _jargs(doc, op, where, _ARITY[op])
    first = _json_scalar(args[0], at[0])
    if op == "like":
        if not isinstance(args[1], str):
            raise _jerr(at[1], "the LIKE pattern must be a string")
        return Like(first, args[1])
    if op == "in":
        if not isinstance(args[1], list) or not args[1]:
            raise _jerr(at[1], "the IN list must be a non-empty array")
        return In(first, tuple(_json_scalar(x, f"{at[1]}[{i}]") for i, x in enumerate(args[1])))
    rest = [_json_scalar(a, at[i]) for i, a in enumerate(args) if i]
    if op == "between":
        return Between(first, rest[0], rest[1])
    return Compare(op, first, rest[0]) if rest else IsNull(first)


def _json_scalar(doc: object, where: str) -> Node:
    if isinstance(doc, str | bool):
        return Literal(doc)
    if isinstance(doc, int | float):
        return Literal(_number(doc))
    if isinstance(doc, dict):
        key, val = next(iter(doc.items())) if len(doc) == 1 else ("", None)
        if key == "property" and isinstance(val, str) and val:
            return Property(val)
        if key in ("date", "timestamp") and isinstance(val, str):
            return Literal(_instant(val, key))
        if isinstance(doc.get("op"), str):
            if str(doc["op"]).lower() in {*_ARITY, "and", "or", "not"}:
                raise _jerr(where, "expected a value here, not a condition")
            raise _unsupported(str(doc["op"]))
        if {"interval", "bbox", "type"} & doc.keys():
            raise _unsupported("INTERVAL" if "interval" in doc else "GEOMETRY")
    if doc is None:
        raise _jerr(where, "null is not a value; use isNull to test for missing values")
    raise _jerr(where, 'expected a value: {"property": "name"}, a string, number, boolean, '
                '{"date": "..."} or {"timestamp": "..."}')  # fmt: skip


def parse_json(doc: object) -> Node:
    """Parse a decoded CQL2-JSON filter, e.g. ``{"op": "=", "args": [{"property": "a"}, 1]}``."""
    return _json_bool(doc, "", 1)


# --- Using the AST --------------------------------------------------------------------------


def properties(node: Node) -> set[str]:
    """The names of all properties a filter refers to."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Property):
            found.add(n.name)
        for value in vars(n).values():  # child nodes sit in fields, lists of them in tuples
            stack.extend(value if isinstance(value, tuple) else [value] * isinstance(value, Node))
    return found


_CLASSES = {
    **dict.fromkeys(("VARCHAR", "CHAR", "BPCHAR", "TEXT", "STRING"), "text"),
    **dict.fromkeys((*NUMERIC_TYPES, "NUMERIC", "REAL", "INT", "INT8", "FLOAT8"), "number"),
    **dict.fromkeys(("BOOLEAN", "BOOL"), "bool"),
    "DATE": "date",
    **dict.fromkeys(("TIMESTAMP", "DATETIME", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS",
                     "TIMESTAMP_US"), "timestamp"),  # fmt: skip
    **dict.fromkeys(("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"), "timestamptz"),
}
_NONSCALAR = {"JSON", "STRUCT", "LIST", "MAP", "UNION", "BLOB", "BYTEA", "ARRAY", "GEOMETRY"}
_DESCRIBE = {"text": "text", "number": "a number", "bool": "a boolean", "date": "a date",
             "timestamp": "a timestamp", "timestamptz": "a timestamp"}  # fmt: skip


def _column_class(name: str, sql_type: str) -> str:
    upper = sql_type.strip().upper()
    base = re.sub(r"\(.*", "", upper).strip()  # DECIMAL(18,3) -> DECIMAL
    if upper.endswith("]") or base in _NONSCALAR:  # INTEGER[] and the like are lists
        raise QueryError(f"Property '{name}' holds structured data ({sql_type[:60]}) and cannot "
                         "be compared; only IS NULL works on it.")  # fmt: skip
    if base not in _CLASSES:
        raise QueryError(f"Property '{name}' has type {sql_type[:60]}, which filters cannot "
                         "compare.")  # fmt: skip
    return _CLASSES[base]


def _literal_class(value: Value) -> str:
    # Exact types: bool is an int and datetime a date, so isinstance would blur them.
    kinds = {bool: "bool", int: "number", float: "number", datetime: "timestamp", date: "date"}
    return kinds.get(type(value), "text")


def _group(cls: str) -> str:
    return "temporal" if cls in ("date", "timestamp", "timestamptz") else cls


class _Compiler:
    def __init__(self, columns: dict[str, str]) -> None:
        self.columns = columns
        self.params: list[object] = []

    def column(self, name: str) -> str:
        if name not in self.columns:
            valid = sorted(self.columns)
            close = [v for v in valid if v.lower() == name.lower()]
            hint = f" Did you mean '{close[0]}'?" if close else ""
            more = f" (and {len(valid) - 30} more)" if len(valid) > 30 else ""
            raise QueryError(f"Unknown property '{name[:60]}' in filter.{hint} Valid properties: "
                             f"{', '.join(valid[:30]) or 'none'}{more}.")  # fmt: skip
        return quote_ident(name)

    def operands(self, nodes: list[Node], what: str, allowed: tuple[str, ...] = ()) -> list[str]:
        """SQL for operands that must share one type. The first property (else the first
        literal) decides it; literals are checked against it, and converted for dates."""
        if not all(isinstance(n, Property | Literal) for n in nodes):
            raise QueryError(f"{what} compares values (properties or literals), not conditions.")
        props = [n for n in nodes if isinstance(n, Property)]
        for p in props:
            self.column(p.name)  # unknown names are reported before type problems
        classes = [_column_class(p.name, self.columns[p.name]) for p in props]
        first = nodes[0]
        anchor = classes[0] if classes else _literal_class(getattr(first, "value", ""))
        subject = f"property '{props[0].name}'" if props else "the first value"
        if allowed and _group(anchor) not in allowed:
            raise QueryError(f"{what} works on {' or '.join(allowed)} values, but {subject} is "
                             f"{_DESCRIBE[anchor]}.")  # fmt: skip
        for p, cls in zip(props, classes, strict=True):
            if _group(cls) != _group(anchor):
                raise QueryError(f"Cannot use {what} between {subject} ({_DESCRIBE[anchor]}) "
                                 f"and property '{p.name}' ({_DESCRIBE[cls]}).")  # fmt: skip
        sql = []
        for n in nodes:
            if isinstance(n, Literal):
                self.params.append(self.convert(n.value, anchor, subject, what))
            sql.append(quote_ident(n.name) if isinstance(n, Property) else "?")
        return sql

    def convert(self, value: Value, anchor: str, subject: str, what: str) -> object:
        cls = _literal_class(value)
        if _group(anchor) == "temporal" and cls in ("text", "date", "timestamp"):
            v = _instant(value, "either") if isinstance(value, str) else value
            if isinstance(v, datetime) and anchor != "timestamptz":
                return v.replace(tzinfo=None)  # plain TIMESTAMP columns hold UTC
            return v
        if _group(cls) == _group(anchor):
            return value
        hint = {"number": " Write numbers without quotes.",
                "text": " Put text in single quotes, e.g. '12'."}.get(anchor, "")  # fmt: skip
        shown = f"'{value[:60]}'" if isinstance(value, str) else str(value).upper()
        raise QueryError(f"Cannot use {what} between {subject}, which is {_DESCRIBE[anchor]}, "
                         f"and {_DESCRIBE[cls]} ({shown}); CQL2 is typed.{hint}")  # fmt: skip

    def compile(self, node: Node, depth: int = 0) -> str:
        if depth > 3 * MAX_DEPTH:  # parsed trees stay well inside this; hand-built ones may not
            raise QueryError(f"The filter is nested more than {MAX_DEPTH} deep.")
        if isinstance(node, And | Or) and node.args:
            sep = " AND " if isinstance(node, And) else " OR "
            return "(" + sep.join(self.compile(a, depth + 1) for a in node.args) + ")"
        if isinstance(node, Not):
            return f"(NOT {self.compile(node.arg, depth + 1)})"
        if isinstance(node, Literal) and isinstance(node.value, bool):
            return "TRUE" if node.value else "FALSE"  # one of two fixed keywords, not user text
        if isinstance(node, Compare) and node.op in COMPARISONS:
            left, right = self.operands([node.left, node.right], f"'{node.op}'")
            return f"({left} {node.op} {right})"
        if isinstance(node, Between):
            v, lo, hi = self.operands([node.operand, node.low, node.high], "BETWEEN",
                                      ("number", "temporal"))  # fmt: skip
            return f"({v} BETWEEN {lo} AND {hi})"
        if isinstance(node, In) and node.items:
            first, *rest = self.operands([node.operand, *node.items], "IN")
            return f"({first} IN ({', '.join(rest)}))"
        if isinstance(node, Like):
            (sql,) = self.operands([node.operand], "LIKE", ("text",))
            if (len(node.pattern) - len(node.pattern.rstrip("\\"))) % 2:
                raise QueryError("A LIKE pattern cannot end with a lone backslash (the escape "
                                 "character); write \\\\ for a literal backslash.")  # fmt: skip
            self.params.append(node.pattern)
            return f"({sql} LIKE ? ESCAPE '\\')"
        if isinstance(node, IsNull):
            op = node.operand  # any column, even JSON, may be tested for NULL
            sql = self.column(op.name) if isinstance(op, Property) else ""
            sql = sql or self.operands([op], "IS NULL")[0]
            return f"({sql} IS NULL)"
        raise QueryError("A filter must be a condition such as a comparison, not a bare value.")


def compile_duckdb(node: Node, columns: dict[str, str]) -> tuple[str, list[object]]:
    """A DuckDB boolean expression for ``node`` with ``?`` placeholders, and its parameters.

    ``columns`` maps property names to DuckDB type names as recorded at ingest. They decide
    which comparisons are allowed: CQL2 is typed, so text against a number is an error.
    """
    compiler = _Compiler(columns)
    sql = compiler.compile(node)
    return sql, compiler.params
