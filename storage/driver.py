"""Statements that go straight to the database driver, beneath SQLAlchemy's Core and ORM.

A few writes happen on nearly every request or on the heaviest ones (an interview's turn, the
plan an interview saves), and there SQLAlchemy's own Python (compiling, parameter and result
processing, the session's bookkeeping) costs several times what SQLite takes to run the
statement. :func:`driver_cursor` gives such a write the driver's cursor of the session's own
connection, inside whatever transaction the session has begun, with the driver's errors turned
into SQLAlchemy's as for any other statement. :class:`DriverInsert` is an INSERT into one table
whose values are converted by the columns' own types (dates, :class:`storage.types.UTCDateTime`,
JSON with the engine's serializer, booleans) and given the columns' Python-side defaults, exactly
as a Core ``insert()`` would write them, but built once and run on that cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Connection, Dialect, Table, exc
from sqlmodel import Session


@contextmanager
def driver_cursor(session: Session | Connection, sql: str) -> Iterator[Any]:
    """A cursor of the session's connection (or of ``session``, a Core connection), closed
    afterwards. The driver's errors come out as SQLAlchemy's (``IntegrityError``,
    ``OperationalError``…), naming ``sql``, as from any other statement, and a lost connection
    is invalidated so that the pool replaces it."""
    connection = session if isinstance(session, Connection) else session.connection()
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    dialect = connection.dialect
    cursor = None
    try:
        cursor = driver_connection.cursor()
        yield cursor
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, driver_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(sql, None, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=dialect) from error
    finally:
        if cursor is not None:
            cursor.close()


_Converter = Callable[[Any], Any] | None


class DriverInsert:
    """``INSERT INTO table`` for rows that carry ``columns`` (mappings from column name to the
    value a Core ``insert()`` would take). The other columns that have a Python-side default get
    it (a callable default is called once per row, as Core calls it); the rest are left to the
    database. For one dialect: build one per table and dialect (see :func:`driver_insert`)."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        unknown = set(columns) - set(table.columns.keys())
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
        self.given = tuple(columns)
        self.defaulted: tuple[Column[Any], ...] = tuple(
            column for column in table.columns
            if column.name not in self.given and column.default is not None and not column.primary_key)
        for column in self.defaulted:  # Core renders these in the SQL; here they would be bound as values
            if not (column.default.is_scalar or column.default.is_callable):  # type: ignore[union-attr]
                raise ValueError(f"{table.name}.{column.name}'s default is SQL, not a value: give the column")
        names = [*self.given, *(column.name for column in self.defaulted)]
        self.converters: tuple[_Converter, ...] = tuple(
            table.columns[name].type._cached_bind_processor(dialect) for name in names)
        style = dialect.paramstyle
        if style == "qmark":
            placeholders = ", ".join("?" for _ in names)
        elif style in ("format", "pyformat"):
            placeholders = ", ".join("%s" for _ in names)
        else:  # pragma: no cover - the drivers used here take qmark (sqlite3) or format (psycopg)
            raise ValueError(f"unsupported parameter style {style!r}")
        self.sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders})"
        (key,) = table.primary_key.columns
        # sqlite3 tells the new row's id itself; elsewhere the statement returns it
        self.sql_returning_id = None if dialect.name == "sqlite" else f"{self.sql} RETURNING {key.name}"

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """One row's values in the statement's order, converted for the driver."""
        values = [row[name] for name in self.given]
        for column in self.defaulted:
            default: Any = column.default
            values.append(default.arg(None) if default.is_callable else default.arg)
        return tuple(value if convert is None or value is None else convert(value)
                     for value, convert in zip(values, self.converters, strict=True))

    def one(self, session: Session, row: Mapping[str, Any]) -> int:
        """Insert one row; the id the database gave it."""
        sql = self.sql_returning_id or self.sql
        with driver_cursor(session, sql) as cursor:
            cursor.execute(sql, self.parameters(row))
            return int(cursor.lastrowid if self.sql_returning_id is None else cursor.fetchone()[0])

    def many(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert every row (each carrying the same columns) in one call to the driver."""
        if not rows:
            return
        with driver_cursor(session, self.sql) as cursor:
            cursor.executemany(self.sql, [self.parameters(row) for row in rows])


def driver_insert(table: Table, columns: Sequence[str], dialect: Dialect) -> DriverInsert:
    """The :class:`DriverInsert` for ``table`` and ``columns`` on ``dialect``, built at its
    first use (building one costs more than running it) and kept with the dialect."""
    built: dict[tuple[str, tuple[str, ...]], DriverInsert] = dialect.__dict__.setdefault(_BUILT, {})
    key = (table.name, tuple(columns))
    insert = built.get(key)
    if insert is None:
        insert = built[key] = DriverInsert(table, columns, dialect)
    return insert


#: Where a dialect keeps its :class:`DriverInsert` statements (they die with its engine).
_BUILT = "_ptt_driver_inserts"
