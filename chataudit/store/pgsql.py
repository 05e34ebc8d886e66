"""A PostgreSQL connection that speaks to callers as the SQLite archive's connection does.

Capabilities run their SQL through ``archive.db.execute(sql, params)`` in SQLite's dialect (qmark
parameters, ``INSERT OR IGNORE``, ``BEGIN IMMEDIATE`` …). :class:`PgConnection` translates each
statement once (sqlglot, then the rewrites below; cached per statement text) and keeps SQLite's
transaction model:

* ``BEGIN IMMEDIATE`` takes the archive's write lock, a transaction-scoped advisory lock, so writers
  take turns as they do on SQLite (an import's messages, ledger leaves and checkpoint are one
  serialised append); a write outside a transaction takes it for its one statement. Readers never
  take it: PostgreSQL's snapshots never block them.
* ``BEGIN`` (deferred) is a REPEATABLE READ snapshot, as a SQLite read transaction in WAL mode is.
* errors reach callers as the ``sqlite3`` exception classes they already catch (a trigger's refusal
  is an ``IntegrityError`` with the trigger's message, a lock not taken an ``OperationalError``).

Rows are tuples that can also be indexed by column name (as ``sqlite3.Row``).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from typing import Any, Callable, Iterable, Iterator

import psycopg
import psycopg.rows
import sqlglot
from psycopg import pq
from psycopg.adapt import Loader
from psycopg.types.string import TextLoader
from sqlglot import exp

WRITE_LOCK = 0x63686174  # "chat": the advisory lock key of the archive's one writer at a time
WRITE_WORDS = {"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"}
RESERVED_COLUMNS = {"user", "end"}  # column names of the schema that PostgreSQL reserves


class Row(tuple):
    """A result row: a tuple, also indexed by column name (``row["id"]``), with ``keys()``."""

    __slots__ = ()
    names: tuple[str, ...] = ()
    index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self.index[key])
            except KeyError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name, position)
    return type("Row", (Row,), {"__slots__": (), "names": names, "index": index})


def _row_factory(cursor: Any) -> Callable[[Any], Row]:
    description = cursor.description
    if description is None:
        return tuple  # type: ignore[return-value]
    cls = _row_class(tuple(column.name for column in description))
    return lambda values: cls(values)


# ---- translation ---------------------------------------------------------------------------------

def _boolean(node: exp.Expression) -> exp.Expression:
    """SQLite reads a number as a condition (``WHERE 1``); PostgreSQL wants a boolean."""
    inner = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(inner, exp.Literal) and not inner.is_string:
        return exp.true() if float(inner.this) else exp.false()
    if isinstance(inner, exp.Column):  # an INTEGER flag (`WHERE blind AND …`), or a catalog's boolean
        return sqlglot.parse_one("CAST(x AS TEXT) NOT IN ('0', 'false')", read="postgres").transform(
            lambda n: node.copy() if isinstance(n, exp.Column) and n.name == "x" else n)
    return node


def _json_path(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JSONPath):
        path = "$"
        for part in node.expressions:
            if isinstance(part, exp.JSONPathKey):
                path += f".{part.this}"
            elif isinstance(part, exp.JSONPathSubscript):
                path += f"[{part.this}]"
        return exp.Literal.string(path)
    return node


def _glob_regex(pattern: str) -> str:
    """SQLite's GLOB pattern (``*``, ``?``, ``[...]`` with ``^`` negating) as an anchored POSIX regex."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and "]" in pattern[i + 2:] + pattern[i + 1:i + 2]:
            end = pattern.index("]", i + 2) if pattern[i + 1:i + 2] in ("]", "^") else pattern.index("]", i + 1)
            inner = pattern[i + 1:end]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + "$"


def _bare_columns(select: exp.Expression) -> exp.Expression:
    """SQLite lets a grouped query name columns that are neither grouped nor aggregated: with one
    ``min(x)``/``max(x)`` they come from the row holding it, else from any row of the group. In
    PostgreSQL each such column c becomes ``(array_agg(c ORDER BY x))[1]`` (``array_agg(c)``)."""
    if not isinstance(select, exp.Select):
        return select
    group = select.args.get("group")
    if not group or group.args.get("rollup") or group.args.get("cube"):
        return select
    aggregates = [a for e in select.expressions for a in e.find_all(exp.AggFunc)]
    key_sql = {k.sql() for k in group.expressions}
    aliases = {e.alias for e in select.expressions if e.alias}
    grouped_aliases = {k.name for k in group.expressions if isinstance(k, exp.Column) and not k.table} & aliases
    order = ""
    if len(aggregates) == 1 and isinstance(aggregates[0], (exp.Min, exp.Max)):
        order = " ORDER BY y " + ("DESC NULLS LAST" if isinstance(aggregates[0], exp.Max) else "ASC")
    places = [e for e in select.expressions if e.alias not in grouped_aliases or not e.alias]
    places += select.args["order"].expressions if select.args.get("order") else []
    for place in places:
        for column in list(place.find_all(exp.Column)):
            if column.find_ancestor(exp.AggFunc, exp.Window, exp.Filter) or _inside_key(column, key_sql) \
                    or column.find_ancestor(exp.Select) is not select or (not column.table and column.name in aliases):
                continue
            picked = sqlglot.parse_one(f"(array_agg(x{order}))[1]", read="postgres")
            columns = list(picked.find_all(exp.Column))
            columns[0].replace(column.copy())
            if order:
                columns[1].replace(aggregates[0].this.copy())
            if column.parent is select:  # the column keeps its name
                picked = exp.alias_(picked, column.name)
            column.replace(picked)
    return select


def _inside_key(column: exp.Column, key_sql: set[str]) -> bool:
    """The column is a grouping key or inside one (``coalesce(a.x, a.y)`` grouped as a whole)."""
    node: exp.Expression | None = column
    while node is not None and not isinstance(node, exp.Select):
        if node.sql() in key_sql:
            return True
        node = node.parent
    return False


def _sqlite_time(node: exp.Anonymous) -> exp.Expression | None:
    """SQLite's ``date(x, 'unixepoch')``, ``julianday(text)`` and ``unixepoch(text)`` in PostgreSQL's
    terms (UTC)."""
    name, args = node.name.lower(), node.expressions
    if name == "date" and len(args) == 2 and isinstance(args[1], exp.Literal) and args[1].this == "unixepoch":
        call = sqlglot.parse_one("to_char(to_timestamp(CAST(x AS DOUBLE PRECISION)) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                                 read="postgres")
    elif name == "julianday" and len(args) == 1:
        call = sqlglot.parse_one("(extract(epoch FROM CAST(x AS TIMESTAMPTZ)) / 86400.0 + 2440587.5)", read="postgres")
    elif name == "unixepoch" and len(args) == 1:
        call = sqlglot.parse_one("CAST(floor(extract(epoch FROM CAST(x AS TIMESTAMPTZ))) AS BIGINT)", read="postgres")
    else:
        return None
    call.find(exp.Column).replace(args[0].copy())
    return call


_DAYS = re.compile(r"^([+-]?\d+) days?$")
_WEEKDAY = re.compile(r"^weekday ([0-6])$")


def _sqlite_date(node: exp.Expression) -> exp.Expression | None:
    """SQLite's ``date(text)`` and ``date(x, modifier, …)`` ('unixepoch' first, then 'weekday N',
    '±N days', 'start of month') as the same 'YYYY-MM-DD' text; None for any other call."""
    if isinstance(node, exp.Date) and not node.args.get("zone") and not node.expressions:
        value, modifiers = node.this, []
    elif isinstance(node, exp.Anonymous) and node.name.lower() == "date" and len(node.expressions) >= 2 \
            and all(isinstance(a, exp.Literal) and a.is_string for a in node.expressions[1:]) \
            and [a.this for a in node.expressions[1:]] != ["unixepoch"]:
        value, modifiers = node.expressions[0], [a.this.strip().lower() for a in node.expressions[1:]]
    else:
        return None
    if modifiers[:1] == ["unixepoch"]:
        sql, modifiers = "(to_timestamp(CAST(x AS DOUBLE PRECISION)) AT TIME ZONE 'UTC')", modifiers[1:]
    else:
        sql = "CAST(x AS TIMESTAMP)"
    for modifier in modifiers:
        days, weekday = _DAYS.match(modifier), _WEEKDAY.match(modifier)
        if days:
            sql = f"({sql} + INTERVAL '{int(days.group(1))} days')"
        elif weekday:  # forward to the next such weekday (0 = Sunday), or stay on it
            if value.find(exp.Placeholder):
                raise sqlite3.OperationalError("date(?, 'weekday N'): give a column or an expression, not a parameter")
            sql = (f"({sql} + CAST(({weekday.group(1)} - extract(dow FROM {sql}) + 7) % 7 AS DOUBLE PRECISION)"
                   " * INTERVAL '1 day')")
        elif modifier == "start of month":
            sql = f"date_trunc('month', {sql})"
        else:
            raise sqlite3.OperationalError(f"date modifier {modifier!r}: unsupported on PostgreSQL")
    call = sqlglot.parse_one(f"to_char({sql}, 'YYYY-MM-DD')", read="postgres")
    value = value.transform(lambda n: _sqlite_date(n) or n)  # a date() inside (transform skips replacements)
    for column in list(call.find_all(exp.Column)):
        if column.name == "x" and not column.table:
            column.replace(value.copy())
    return call


def _rewrite(tree: exp.Expression, primary_keys: dict[str, tuple[str, ...]]) -> exp.Expression:
    for node in list(tree.walk()):
        if isinstance(node, (exp.JSONExtractScalar, exp.JSONExtract)):
            # SQLite's json_extract (a function of the schema here: see migrations/pg/0001)
            call = exp.Anonymous(this="json_extract", expressions=[node.this, _json_path(node.expression)])
            node.replace(call)
            parent = call.parent
            if isinstance(parent, (exp.EQ, exp.NEQ)):  # the other side is read as text
                other = parent.expression if parent.this is call else parent.this
                if not (isinstance(other, exp.Literal) and other.is_string):
                    other.replace(exp.Cast(this=other.copy(), to=exp.DataType.build("TEXT")))
            continue
        if isinstance(node, exp.ColumnDef) and node.args.get("kind") is not None \
                and node.args["kind"].this == exp.DataType.Type.INT \
                and any(isinstance(c.kind, exp.PrimaryKeyColumnConstraint) for c in node.constraints) \
                and not any(isinstance(c.kind, exp.GeneratedAsIdentityColumnConstraint) for c in node.constraints):
            # SQLite's INTEGER PRIMARY KEY is the rowid: an insert without it is given the next one
            node.append("constraints", exp.ColumnConstraint(kind=exp.GeneratedAsIdentityColumnConstraint(this=False)))
        if isinstance(node, exp.Glob):
            if not (isinstance(node.expression, exp.Literal) and node.expression.is_string):
                raise sqlite3.OperationalError("GLOB with a pattern that is not a literal: unsupported on PostgreSQL")
            node.replace(exp.RegexpLike(this=node.this, expression=exp.Literal.string(_glob_regex(node.expression.this))))
            continue
        if isinstance(node, exp.GroupConcat):  # SQLite joins numbers as text; string_agg wants text
            inner = node.this.this if isinstance(node.this, exp.Order) else node.this
            for value in inner.expressions if isinstance(inner, exp.Distinct) else [inner]:
                if not (isinstance(value, exp.Literal) and value.is_string):
                    value.replace(exp.Cast(this=value.copy(), to=exp.DataType.build("TEXT")))
        if isinstance(node, exp.HexString):  # SQLite's blob literal X'00ff' is a bit string in PostgreSQL
            node.replace(exp.Cast(this=exp.Literal.string("\\x" + node.this), to=exp.DataType.build("BYTEA")))
            continue
        if isinstance(node, exp.Anonymous) and node.name.lower() == "zeroblob" and len(node.expressions) == 1:
            call = sqlglot.parse_one("decode(repeat('00', CAST(x AS INT)), 'hex')", read="postgres")
            call.find(exp.Column).replace(node.expressions[0].copy())
            node.replace(call)
            continue
        if isinstance(node, exp.JSONArrayAgg) and not isinstance(node.parent, exp.Coalesce):
            # SQLite's json_group_array of no rows is '[]'; PostgreSQL's json_agg is NULL
            empty = exp.Coalesce(expressions=[exp.Literal.string("[]")])
            node.replace(empty)
            empty.set("this", node)
        if isinstance(node, exp.Anonymous):
            replacement = _sqlite_time(node)
            if replacement is not None:
                node.replace(replacement)
                continue
        if isinstance(node, exp.In) and not node.expressions and not node.args.get("query") \
                and not node.args.get("unnest") and not node.args.get("field"):
            node.replace(exp.false())  # SQLite's `x IN ()` (an empty list) is false
            continue
        if isinstance(node, exp.Join) and node.args.get("kind") == "CROSS" and node.args.get("on"):
            node.set("kind", None)  # SQLite's CROSS JOIN … ON (a join-order hint) is an inner join
        if isinstance(node, exp.Subquery) and not node.alias and isinstance(node.parent, (exp.From, exp.Join)):
            node.set("alias", exp.TableAlias(this=exp.to_identifier(f"subquery_{id(node) % 100000}")))
        elif isinstance(node, exp.Table) and node.args.get("db") and node.db.lower() == "temp":
            node.set("db", exp.to_identifier("pg_temp"))  # SQLite's temp schema
        elif isinstance(node, exp.Ordered) and not node.find_ancestor(exp.ArrayAgg):
            # keep PostgreSQL's own NULL order, so an index serves ORDER BY (SQLite sorts NULLs first)
            node.set("nulls_first", bool(node.args.get("desc")))
        elif isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT:
            node.set("this", exp.DataType.Type.BIGINT)  # SQLite's INTEGER is 64-bit
        elif isinstance(node, exp.Column) and node.name.lower() in RESERVED_COLUMNS:
            node.this.set("quoted", True)
        elif isinstance(node, exp.Identifier) and isinstance(node.parent, exp.Schema) \
                and node.name.lower() in RESERVED_COLUMNS:
            node.set("quoted", True)  # an INSERT's column list
        elif isinstance(node, (exp.Where, exp.Not)):
            node.set("this", _boolean(node.this))
        elif isinstance(node, (exp.And, exp.Or)):
            node.set("this", _boolean(node.this))
            node.set("expression", _boolean(node.expression))
        elif isinstance(node, exp.OnConflict):
            for key in node.args.get("conflict_keys") or []:
                if isinstance(key, exp.Ordered):
                    key.set("nulls_first", None)
            table = node.parent.this.this if isinstance(node.parent.this, exp.Schema) else node.parent.this
            for assignment in node.expressions:  # the existing row's columns, named as PostgreSQL needs
                for column in assignment.expression.find_all(exp.Column) if assignment.expression else []:
                    if not column.table:
                        column.set("table", exp.to_identifier(table.name))
        elif isinstance(node, exp.Insert) and node.args.get("alternative"):
            alternative = node.args["alternative"].upper()
            node.set("alternative", None)
            if alternative == "IGNORE":
                node.set("conflict", exp.OnConflict(action=exp.var("DO NOTHING")))
            elif alternative == "REPLACE":
                schema = node.this
                table = schema.this.name if isinstance(schema, exp.Schema) else schema.name
                columns = [c.name for c in schema.expressions] if isinstance(schema, exp.Schema) else []
                keys = primary_keys.get(table)
                if not keys or not columns:
                    raise sqlite3.OperationalError(f"INSERT OR REPLACE into {table}: unsupported on PostgreSQL")
                updates = [exp.EQ(this=exp.column(c, quoted=c in RESERVED_COLUMNS),
                                  expression=exp.column(c, table="excluded", quoted=c in RESERVED_COLUMNS))
                           for c in columns if c not in keys]
                node.set("conflict", exp.OnConflict(
                    conflict_keys=[exp.to_identifier(k, quoted=k in RESERVED_COLUMNS) for k in keys],
                    action=exp.var("DO UPDATE" if updates else "DO NOTHING"), expressions=updates))
    return tree


_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.I)
_INDEX_HINT = re.compile(r"\s+(?:INDEXED\s+BY\s+\w+|NOT\s+INDEXED)\b", re.I)  # SQLite's planner hints
_GUARD = re.compile(r"CREATE TRIGGER IF NOT EXISTS (\w+) (BEFORE (?:UPDATE|DELETE|INSERT)(?: OF [\w, ]+?)?) ON (\w+)\s+"
                    r"BEGIN SELECT RAISE\(ABORT, '((?:[^']|'')*)'\); END\s*$", re.S)
_TRIGGER = re.compile(r"CREATE TRIGGER IF NOT EXISTS (\w+)\s+((?:AFTER|BEFORE) (?:UPDATE|DELETE|INSERT)(?: OF [\w, ]+?)?)"
                      r"\s+ON (\w+)\s+(?:FOR EACH ROW\s+)?(?:WHEN (.+?)\s+)?BEGIN\s+(.+?);?\s*END\s*$", re.S | re.I)


def _trigger(name: str, when: str, table: str, condition: str | None, body: str,
             primary_keys: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """A capability's SQLite trigger (``BEGIN stmt; … END``) as a PL/pgSQL row trigger: each body
    statement translated as any other, created once (as IF NOT EXISTS: a second run takes no lock
    on the table)."""
    statements = []
    for statement in body.split(";"):  # the bodies carry no ';' inside literals
        if statement.strip():
            text, count, _ = translate(statement.strip(), primary_keys)
            if count:
                raise sqlite3.OperationalError(f"trigger {name}: parameters in a trigger body")
            statements.append(text + ";")
    guard = ""
    if condition:
        guard = f" WHEN ({translate('SELECT 1 WHERE ' + condition, primary_keys)[0].split(' WHERE ', 1)[1]})"
    return (f"DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{name}'"
            f" AND tgrelid = '{table}'::regclass) THEN"
            f" CREATE OR REPLACE FUNCTION chataudit_trigger_{name}() RETURNS trigger LANGUAGE plpgsql AS $fn$"
            f" BEGIN {' '.join(statements)} RETURN NULL; END $fn$;"
            f" CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW{guard}"
            f" EXECUTE FUNCTION chataudit_trigger_{name}(); END IF; END $do$")


def _placeholders(sql: str) -> tuple[str, int]:
    """psycopg's ``%s`` placeholders (as sqlglot writes them) → ``$1 … $n`` outside quotes, so that
    a ``%`` in a literal is only a character."""
    out, count, i, quote = [], 0, 0, None
    while i < len(sql):
        char = sql[i]
        if quote:
            out.append(char)
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            out.append(char)
        elif sql.startswith("%s", i):
            count += 1
            out.append(f"${count}")
            i += 2
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out), count


@functools.lru_cache(maxsize=8192)
def translate(sql: str, primary_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> tuple[str, int, bool]:
    """(PostgreSQL text with $n parameters, parameter count, writes?) of one SQLite statement."""
    guard = _GUARD.match(sql.strip())
    if guard:
        name, when, table, message = guard.groups()
        create = (f"CREATE OR REPLACE TRIGGER {name} {when} ON {table} FOR EACH ROW"
                  f" EXECUTE FUNCTION chataudit_refuse('{message}')")
        if when == "BEFORE DELETE":  # TRUNCATE fires no row trigger: its statement twin (as pg/0025)
            create = (f"DO $do$ BEGIN {create}; CREATE OR REPLACE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table}"
                      f" FOR EACH STATEMENT EXECUTE FUNCTION chataudit_refuse('{message}'); END $do$")
        return create, 0, True
    trigger = _TRIGGER.match(sql.strip())
    if trigger:
        return _trigger(*trigger.groups(), primary_keys), 0, True
    sql = _WITHOUT_ROWID.sub(")", sql)  # a storage choice of SQLite's; every PostgreSQL table is one
    sql = _INDEX_HINT.sub("", sql)
    try:
        trees = sqlglot.parse(sql, read="sqlite")
    except sqlglot.errors.ParseError as error:
        raise sqlite3.OperationalError(f"cannot translate to PostgreSQL: {str(error).splitlines()[0]}") from None
    if len(trees) != 1 or trees[0] is None:
        raise sqlite3.OperationalError("one statement at a time")
    tree = _rewrite(trees[0].transform(_bare_columns).transform(lambda n: _sqlite_date(n) or n), dict(primary_keys))
    text, count = _placeholders(tree.sql(dialect="postgres"))
    first = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return text, count, first in WRITE_WORDS or (first == "WITH" and bool(tree.find(exp.Insert, exp.Update, exp.Delete)))


# ---- errors ----------------------------------------------------------------------------------------

def sqlite_error(error: psycopg.Error) -> sqlite3.Error:
    """The sqlite3 exception a caller written for the SQLite archive expects for ``error``."""
    message = error.diag.message_primary or str(error).splitlines()[0] if isinstance(error, psycopg.Error) else str(error)
    if isinstance(error, psycopg.errors.IntegrityError):
        cls: type[sqlite3.Error] = sqlite3.IntegrityError
    elif isinstance(error, psycopg.errors.RaiseException) or (error.sqlstate or "").startswith("23"):
        cls = sqlite3.IntegrityError
    elif isinstance(error, (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled,
                            psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)):
        cls, message = sqlite3.OperationalError, f"database is locked ({message})"
    elif isinstance(error, (psycopg.OperationalError, psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn,
                            psycopg.errors.UndefinedFunction, psycopg.errors.SyntaxError)):
        cls = sqlite3.OperationalError
    elif isinstance(error, psycopg.DataError):
        cls = sqlite3.DataError
    else:
        cls = sqlite3.DatabaseError
    converted = cls(message)
    converted.pg_sqlstate = error.sqlstate  # type: ignore[attr-defined]
    return converted


# ---- the connection ---------------------------------------------------------------------------------

_TABLE_INFO = re.compile(r'PRAGMA\s+table_info\s*\(\s*["\'`]?(\w+)["\'`]?\s*\)\s*;?\s*$', re.I)
# SQLite's `PRAGMA table_info(t)` rows (cid, name, type, notnull, dflt_value, pk), the type named as the
# SQLite schema declares it, so that whatever maps types by SQLite's affinity rules reads the same.
TABLE_INFO = (
    "SELECT a.attnum - 1 AS cid, a.attname::text AS name,"
    " CASE WHEN t.typname IN ('int2', 'int4', 'int8', 'bool') THEN 'INTEGER'"
    " WHEN t.typname IN ('float4', 'float8', 'numeric') THEN 'REAL' WHEN t.typname = 'bytea' THEN 'BLOB'"
    " ELSE 'TEXT' END AS type, a.attnotnull::int AS notnull, pg_get_expr(d.adbin, d.adrelid) AS dflt_value,"
    " coalesce(array_position(k.conkey, a.attnum), 0) AS pk"
    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
    " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " LEFT JOIN pg_constraint k ON k.conrelid = a.attrelid AND k.contype = 'p'"
    " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")
_PLAIN_INSERT = re.compile(r'INSERT INTO ("?\w+"?) \(([\w", ]+)\) VALUES \(\$1(?:, \$\d+)*\)$')
_UPSERT = re.compile(r'INSERT INTO ("?\w+"?) \(([\w", ]+)\) VALUES \(\$1(?:, \$\d+)*\) (ON CONFLICT\s*\(([\w", ]+)\) DO .*)$',
                     re.S)
MANY_ROWS = 1000  # an upsert of this many rows at once goes through a staging table (one statement, not N)


def _distinct_keys(rows: list[tuple], columns: str, keys: str) -> bool:
    """True when no two of ``rows`` (values of ``columns``) have the same ``keys``."""
    names = [c.strip().strip('"') for c in columns.split(",")]
    at = [names.index(k.strip().strip('"')) for k in keys.split(",")]
    return len({tuple(row[i] for i in at) for row in rows}) == len(rows)


class NumberLoader(Loader):
    """PostgreSQL's ``numeric`` (``sum`` of BIGINT, ``avg``, arithmetic on them) as SQLite gives
    such values: an integer when whole, else a REAL (float), never a Decimal."""

    def load(self, data: Any) -> int | float:
        text = bytes(data)
        return int(text) if text.lstrip(b"-").isdigit() else float(text)


class PgCursor:
    """A cursor over translated statements (the sqlite3 cursor's surface the code base uses)."""

    def __init__(self, connection: "PgConnection"):
        self.connection = connection
        self._cursor = connection.raw.cursor(row_factory=_row_factory)
        for name in ("json", "jsonb"):  # SQLite's JSON functions return text: callers parse it themselves
            self._cursor.adapters.register_loader(name, TextLoader)
        self._cursor.adapters.register_loader("numeric", NumberLoader)
        self.lastrowid: int | None = None
        self._fetched: list | None = None

    @property
    def row_factory(self) -> Any:
        return None

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        """None asks for plain tuples (as on a sqlite3 cursor: what bulk readers such as the ledger
        want); anything else keeps rows name- and index-addressable."""
        self._cursor.row_factory = psycopg.rows.tuple_row if factory is None else _row_factory

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def description(self) -> Any:
        return self._cursor.description

    def execute(self, sql: str, parameters: Any = ()) -> "PgCursor":
        self.connection._run(self, sql, parameters)
        return self

    def executemany(self, sql: str, rows: Iterable[Any]) -> "PgCursor":
        self.connection._run_many(self, sql, rows)
        return self

    def fetchone(self) -> Any:
        if self._fetched is not None:
            return self._fetched.pop(0) if self._fetched else None
        try:
            return self._cursor.fetchone()
        except psycopg.ProgrammingError:  # a statement without a result
            return None

    def fetchmany(self, size: int = 1) -> list:
        if self._fetched is not None:
            taken, self._fetched[:size] = self._fetched[:size], []
            return taken
        try:
            return self._cursor.fetchmany(size)
        except psycopg.ProgrammingError:
            return []

    def fetchall(self) -> list:
        if self._fetched is not None:
            taken, self._fetched = self._fetched, []
            return taken
        try:
            return self._cursor.fetchall()
        except psycopg.ProgrammingError:
            return []

    def __iter__(self) -> Iterator[Any]:
        while True:
            rows = self.fetchmany(1000)
            if not rows:
                return
            yield from rows

    def close(self) -> None:
        self._cursor.close()


class PgConnection:
    """One PostgreSQL connection that callers use as they use the SQLite archive's connection."""

    dialect = "postgresql"
    on_wait: Callable[[], None] | None = None
    wait_limit_s: float | None = None
    row_factory: Any = None

    def __init__(self, url: str):
        self.url = url
        self.raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.RawCursor)
        # No JIT: the archive's statements are index lookups over many month partitions, whose
        # estimated cost (a frequent term's GIN branch, planned though rarely run) passes JIT's
        # threshold — at 10M messages a search compiled 1,622 functions for 7.7 s to run 1 ms.
        # (A SET, not a startup option: connection poolers refuse unknown startup parameters.)
        self.raw.execute("SET jit = off")
        self._locked = False
        self.primary_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
        self._changes = 0  # rows written through this connection (sqlite3's total_changes)
        self.conflicted: set[str] = set()  # tables whose many-row upsert met a stored key (see _copy_fresh)

    def load_catalog(self) -> None:
        """The primary keys of the archive's tables (INSERT OR REPLACE needs them)."""
        rows = self.raw.execute(
            "SELECT c.conrelid::regclass::text, array_agg(a.attname::text ORDER BY k.ord)"
            " FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
            " WHERE c.contype = 'p' AND c.connamespace = 'public'::regnamespace GROUP BY 1").fetchall()
        self.primary_keys = tuple(sorted((name, tuple(columns)) for name, columns in rows))

    # -- transactions --

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def _lock(self, *, wait: bool = True) -> None:
        """Take the archive's write lock in the open transaction (waits for another writer)."""
        if self._locked:
            return
        if self.raw.execute("SELECT pg_try_advisory_xact_lock($1)", (WRITE_LOCK,)).fetchone()[0]:
            self._locked = True
            return
        if not wait:
            raise sqlite3.OperationalError("database is locked")
        if self.on_wait is not None:
            self.on_wait()
        started = time.monotonic()
        while True:  # in short slices, so that Ctrl-C is heard
            if self.raw.execute("SELECT pg_try_advisory_xact_lock($1)", (WRITE_LOCK,)).fetchone()[0]:
                self._locked = True
                return
            if self.wait_limit_s is not None and time.monotonic() - started >= self.wait_limit_s:
                raise sqlite3.OperationalError("database is locked")
            time.sleep(0.02)

    def _control(self, word: str, sql: str, *, wait: bool = True) -> bool:
        """BEGIN …, COMMIT, ROLLBACK, END: handled here; False for any other statement."""
        words = sql.strip().rstrip(";").upper().split()
        if word == "BEGIN":
            immediate = len(words) > 1 and words[1] in ("IMMEDIATE", "EXCLUSIVE")
            self.raw.execute("BEGIN" if immediate else "BEGIN ISOLATION LEVEL REPEATABLE READ")
            self._locked = False
            if immediate:
                try:
                    self._lock(wait=wait)
                except BaseException:
                    self.raw.execute("ROLLBACK")
                    raise
            return True
        if word in ("COMMIT", "END", "ROLLBACK") and (len(words) == 1 or words[1] == "TRANSACTION"):
            self.raw.execute("ROLLBACK" if word == "ROLLBACK" else "COMMIT")
            self._locked = False
            return True
        return False

    # -- statements --

    def _prepare(self, sql: str, parameters: Any) -> tuple[str, Any, bool]:
        text, count, writes = translate(sql, self.primary_keys)
        if isinstance(parameters, dict):
            raise sqlite3.ProgrammingError("named parameters are not supported on PostgreSQL")
        values = tuple(parameters or ())
        if len(values) != count:
            raise sqlite3.ProgrammingError(f"the statement uses {count} parameters, {len(values)} given")
        return text, values, writes

    def _run(self, cursor: PgCursor, sql: str, parameters: Any, *, wait: bool = True) -> None:
        cursor.lastrowid, cursor._fetched = None, None
        stripped = sql.lstrip()
        word = stripped.split(None, 1)[0].upper() if stripped else ""
        try:
            if word in ("BEGIN", "COMMIT", "END", "ROLLBACK") and self._control(word, stripped, wait=wait):
                return
            if word == "PRAGMA":
                table = _TABLE_INFO.match(stripped)
                if table:  # a table's columns, as SQLite lists them (a lake's schema is read so)
                    cursor._cursor.execute(TABLE_INFO, (table.group(1),))
                return  # SQLite's other knobs (journal mode, cache size …) have no meaning here
            text, values, writes = self._prepare(sql, parameters)
            returning = writes and word == "INSERT" and " RETURNING " not in text.upper() and self._has_id(text)
            if returning:
                text += " RETURNING id"
            if writes and not self.in_transaction:
                with self.raw.transaction():
                    self._locked = False
                    self._lock(wait=wait)
                    cursor._cursor.execute(text, values)
                    self._count(cursor)
                    if returning:
                        self._keep_returned(cursor)
                self._locked = False
                return
            if writes:
                self._lock(wait=wait)
            cursor._cursor.execute(text, values)
            if writes:
                self._count(cursor)
            if returning:
                self._keep_returned(cursor)
        except psycopg.Error as error:
            raise sqlite_error(error) from None

    def _count(self, cursor: PgCursor) -> None:
        self._changes += max(cursor._cursor.rowcount, 0)

    @staticmethod
    def _keep_returned(cursor: PgCursor) -> None:
        ids = cursor._cursor.fetchall()
        cursor.lastrowid = ids[-1][0] if ids else None
        cursor._fetched = []

    def _has_id(self, text: str) -> bool:
        match = re.match(r'\s*INSERT INTO ("?\w+"?)', text, re.I)
        return bool(match) and match.group(1).strip('"') in self.id_tables

    @functools.cached_property
    def id_tables(self) -> frozenset[str]:
        rows = self.raw.execute("SELECT table_name FROM information_schema.columns WHERE column_name = 'id'"
                                " AND table_schema = 'public' AND data_type = 'bigint'").fetchall()
        return frozenset(r[0] for r in rows)

    def _run_many(self, cursor: PgCursor, sql: str, rows: Iterable[Any]) -> None:
        text, _count, writes = translate(sql, self.primary_keys)
        batch = [tuple(r) for r in rows]
        if not batch:
            return
        plain = _PLAIN_INSERT.match(text)
        upsert = _UPSERT.match(text) if not plain and len(batch) >= MANY_ROWS else None
        if upsert and not _distinct_keys(batch, upsert.group(2), upsert.group(4)):
            upsert = None  # a key twice: each row must see the one before, as one statement per row does

        def store() -> None:
            if plain:  # rows into a table with nothing to resolve: COPY (its triggers fire as for INSERT)
                with cursor._cursor.copy(f"COPY {plain.group(1)} ({plain.group(2)}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            elif upsert and upsert.group(1) not in self.conflicted and self._copy_fresh(cursor, upsert, batch):
                pass  # none of the keys was stored yet: the rows went in by a plain COPY
            elif upsert:  # COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT in row order
                table, columns, conflict = upsert.group(1), upsert.group(2), upsert.group(3)
                staging = '"many_' + table.strip('"') + '"'
                run = cursor._cursor.execute
                run(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {columns} FROM {table} WITH NO DATA")
                run(f"TRUNCATE {staging}")
                with cursor._cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                run(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ORDER BY ctid {conflict}")
                run(f"TRUNCATE {staging}")
            else:
                cursor._cursor.executemany(text, batch)
            if writes:
                self._count(cursor)

        try:
            if writes and not self.in_transaction:
                with self.raw.transaction():
                    self._locked = False
                    self._lock()
                    store()
                self._locked = False
                return
            if writes:
                self._lock()
            store()
        except psycopg.Error as error:
            raise sqlite_error(error) from None

    def _copy_fresh(self, cursor: PgCursor, upsert: re.Match[str], batch: list[tuple]) -> bool:
        """An upsert of rows none of whose keys is stored yet is a plain COPY (the same rows, the same
        triggers: no conflict to resolve), tried under a savepoint; False when a key was already
        there (rolled back to the savepoint, and the table takes the staging path from then on: the
        ledger's tree nodes are always new, another table's upsert may mostly update)."""
        table, columns = upsert.group(1), upsert.group(2)
        try:
            with self.raw.transaction():  # inside the caller's transaction: a savepoint
                with cursor._cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            self.conflicted.add(table)
            return False
        return True

    # -- the sqlite3.Connection surface --

    def cursor(self) -> PgCursor:
        return PgCursor(self)

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        return self.cursor().execute(sql, parameters)

    def execute_once(self, sql: str, parameters: Any = (), /) -> PgCursor:
        """One try, no waiting (as on SQLite: a write that would rather not happen than wait)."""
        cursor = self.cursor()
        self._run(cursor, sql, parameters, wait=False)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Any], /) -> PgCursor:
        return self.cursor().executemany(sql, rows)

    def executescript(self, script: str) -> None:
        raise sqlite3.OperationalError("executescript is not supported on PostgreSQL")

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        """SQL functions written in Python cannot run inside PostgreSQL: a statement that calls one
        fails with the function's name (the store computes what it needs before it writes)."""

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")
            self._locked = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")
            self._locked = False

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "PgConnection":
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        """As ``with sqlite3_connection:``: an open transaction is committed, or rolled back on an error."""
        if kind is None:
            self.commit()
        else:
            self.rollback()

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection (their statements' own counts)."""
        return self._changes
