"""Set-based writes for the hot paths (the loyalty back-fill, live events in batches, imports).

`rows_insert` writes many rows of plain tuples in one statement: binary COPY on PostgreSQL (psycopg turns each value
into its column's type in C, several times faster than Django's bulk_create), executemany elsewhere. `ids_reserve`
hands out primary keys before the insert, for rows that others point at in the same batch. `rows_insert_filled`
fills the columns not given (defaults, auto_now, values the same in every row) and serves the imports.
"""

import json
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

PG_TYPES = {"bigint": "int8", "integer": "int4", "smallint": "int2", "boolean": "bool", "date": "date",
            "timestamp with time zone": "timestamptz", "text": "text", "jsonb": "jsonb"}
PREPARED = ("DateTimeField", "DecimalField", "JSONField")  # what SQLite needs turned into its own types
INSERT_BATCH = 2000  # rows per executemany of rows_insert_filled outside PostgreSQL


def pg_type(field: models.Field) -> str:
    """Return the PostgreSQL type name of a field's column (of the target's key for a foreign key)."""
    db_type = field.db_type(connection).split("(")[0].strip()
    return PG_TYPES.get(db_type, db_type)


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """Return `count` new primary keys of the model, in increasing order, for rows inserted with their key."""
    if not count:
        return []
    ops = connection.ops
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [ops.quote_name(table), column, count])
            return sorted(row[0] for row in cursor.fetchall())
        # SQLite: AUTOINCREMENT never gives a key again, so start above the highest ever given (sqlite_sequence)
        # as well as above the highest stored. The transaction holds the write lock (IMMEDIATE), so no other
        # writer takes these keys in between; and a key taken anyway fails the insert, which rolls back.
        cursor.execute(f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                       f"COALESCE((SELECT MAX({ops.quote_name(column)}) FROM {ops.quote_name(table)}), 0))",
                       [table])
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


def rows_insert(model: type[models.Model], names: tuple[str, ...], rows: list) -> None:
    """Insert rows given as sequences of Python values in the order of the field `names` (inside a transaction)."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    json_at = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([pg_type(f) for f in fields])
                for row in rows:
                    copy.write_row(_jsonb(row, json_at) if json_at else row)
            return
        prepare = [(i, f) for i, f in enumerate(fields) if f.get_internal_type() in PREPARED]
        if prepare:
            rows = [list(row) for row in rows]
            for i, f in prepare:
                # The cursor's own form of the value, as rows_insert_filled writes it; else Django's preparation.
                convert = _db_converter(f) or partial(f.get_db_prep_save, connection=connection)
                for row in rows:
                    if row[i] is not None:
                        row[i] = convert(row[i])
        marks = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


def _db_converter(field: models.Field) -> Any:
    """Return the function that turns a Python value of the field into what the cursor takes, or None."""
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        # As JSON text, which both databases read into the column: a value the same in every row (`fixed`) is then
        # encoded once, where the driver's JSON wrapper would encode it again for each row.
        return partial(json.dumps, cls=field.encoder)
    return None


def rows_insert_filled(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]],
                       fixed: dict[str, Any] | None = None) -> None:
    """Insert rows of values for the columns `names` (attnames): COPY on PostgreSQL, executemany by batch elsewhere.

    Unlike rows_insert, the other columns take the `fixed` value, the same in every row, or their default;
    auto_now fields take the current time; the primary key, unless named, its next value. bulk_create spends most
    of its time compiling SQL value by value (and SQLite's 999-parameter limit makes its batches tiny); an import
    of 100,000 rows needs the plain parameterised INSERT.
    """
    fixed = fixed or {}
    now = timezone.now()
    fields = {f.attname: f for f in model._meta.concrete_fields}
    shared: dict[str, Any] = {}
    for attname, field in fields.items():
        if attname in names or field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = fixed[attname] if attname in fixed else field.get_default()
        convert = _db_converter(field)
        shared[attname] = convert(value) if convert is not None and value is not None else value
    tail = tuple(shared.values())
    converters = [(i, convert) for i, name in enumerate(names) if (convert := _db_converter(fields[name]))]

    def db_row(row: Sequence[Any]) -> tuple:
        if converters:
            row = list(row)
            for i, convert in converters:
                if row[i] is not None:
                    row[i] = convert(row[i])
        return (*row, *tail)

    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(ops.quote_name(fields[attname].column) for attname in (*names, *shared))
    if connection.vendor == "postgresql":
        # COPY streams the rows in one statement: executemany pays a server round trip per row.
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(db_row(row))
        return
    prepared = [db_row(row) for row in rows]
    if not prepared:
        return
    placeholders = ", ".join(["%s"] * (len(names) + len(shared)))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite" and len(prepared) > INSERT_BATCH:
            # Random public ids land all over the unique indexes; a larger page cache keeps them in memory.
            cursor.execute("PRAGMA cache_size = -131072")
        for start in range(0, len(prepared), INSERT_BATCH):
            cursor.executemany(sql, prepared[start:start + INSERT_BATCH])


def _jsonb(row: Any, at: list[int]) -> list:
    row = list(row)
    for i in at:
        if row[i] is not None:
            row[i] = Jsonb(row[i])
    return row
