"""Set-based writes for the hot paths (the loyalty back-fill, live events in batches, imports).

`rows_insert` is the one bulk writer: many rows of plain tuples in one statement, binary COPY on PostgreSQL (psycopg
turns each value into its column's type in C, several times faster than Django's bulk_create), executemany by batch
elsewhere; the columns not given take their defaults. `ids_reserve` hands out primary keys before the insert, for
rows that others point at in the same batch.
"""

import json
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import islice
from typing import Any

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

PG_TYPES = {"bigint": "int8", "integer": "int4", "smallint": "int2", "boolean": "bool", "date": "date",
            "timestamp with time zone": "timestamptz", "text": "text", "jsonb": "jsonb",
            "double precision": "float8", "real": "float4"}
INSERT_BATCH = 2000  # rows per executemany outside PostgreSQL


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



def rows_insert(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]],
                fixed: dict[str, Any] | None = None) -> None:
    """Insert rows of Python values in the order of `names` (inside a transaction).

    A name is a field's name or its attname, as `Model._meta.get_field` takes them: "customer" and "customer_id" are
    the same column. The columns not named take the value of `fixed` (the same in every row, keyed the same way), else
    their default, or the current time for auto_now fields; the primary key, unless named, its next value; a column with
    only a database default, its own. bulk_create spends most of its time compiling SQL value by value (and
    SQLite's 999-parameter limit makes its batches tiny); an import of 100,000 rows needs one COPY, or the plain
    parameterised INSERT by batch.
    """
    if not rows:
        return  # an empty list: no statement
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    fixed = {meta.get_field(name).attname: value for name, value in (fixed or {}).items()}
    given = {field.attname for field in fields}
    now = timezone.now()
    shared: dict[models.Field, Any] = {}
    for field in meta.concrete_fields:
        if field.attname in given or field.primary_key or field.generated:
            continue
        if field.attname in fixed:
            shared[field] = fixed[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            shared[field] = now
        elif field.has_default() or not field.has_db_default():
            shared[field] = field.get_default()
    ops = connection.ops
    table = ops.quote_name(meta.db_table)
    columns = ", ".join(ops.quote_name(field.column) for field in (*fields, *shared))
    postgres = connection.vendor == "postgresql"
    # What the cursor takes in place of a Python value: SQLite dates and JSON as text; PostgreSQL's binary COPY the
    # values as they are (JSON through json.dumps, unless the field has an encoder of its own).
    converters = [(i, convert) for i, field in enumerate(fields) if (convert := _db_converter(field, postgres))]
    tail = tuple(_db_value(field, value, postgres) for field, value in shared.items())

    def converted(rows: Iterable[Sequence[Any]]) -> Iterable[Sequence[Any]]:
        for row in rows:
            if converters:
                row = list(row)
                for i, convert in converters:
                    if row[i] is not None:
                        row[i] = convert(row[i])
            yield (*row, *tail)

    db_rows = converted(rows) if converters or tail else rows
    with connection.cursor() as cursor:
        if postgres:
            # One statement: executemany pays a server round trip per row.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([pg_type(field) for field in (*fields, *shared)])
                for row in db_rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * (len(fields) + len(shared)))})"  # noqa: S608
        pending = iter(db_rows)
        batch = list(islice(pending, INSERT_BATCH))
        if len(batch) == INSERT_BATCH and connection.vendor == "sqlite":
            # Random public ids land all over the unique indexes; a larger page cache keeps them in memory.
            cursor.execute("PRAGMA cache_size = -131072")
        while batch:
            cursor.executemany(sql, batch)
            batch = list(islice(pending, INSERT_BATCH))


def _db_value(field: models.Field, value: Any, postgres: bool) -> Any:
    convert = _db_converter(field, postgres)
    return convert(value) if convert is not None and value is not None else value


def _db_converter(field: models.Field, postgres: bool) -> Any:
    """Return the function that turns a Python value of the field into what the cursor takes, or None."""
    if postgres:
        # Binary COPY encodes JSON with json.dumps itself; a field's own encoder goes with the value.
        if isinstance(field, models.JSONField) and field.encoder is not None:
            return partial(Jsonb, dumps=partial(json.dumps, cls=field.encoder))
        return None
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        # As JSON text: a value the same in every row (`fixed`) is then encoded once.
        return partial(json.dumps, cls=field.encoder)
    return None
