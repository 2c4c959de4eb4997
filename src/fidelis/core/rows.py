"""Model instances from hand-written SELECT statements, converted exactly as the ORM converts them.

For the few reads that every page makes (the signed-in user with the session, the customer of a 360° page and of
each of its panels), compiling the ORM query costs several times what the database needs to answer it.
`ModelColumns` lists a model's columns under a table alias for such a statement and turns each row back into an
instance with the same converters the ORM's compiler applies (time zones on SQLite, JSON, decimals, booleans), so
what the caller gets is what `Model.objects.get(…)` would have given.
"""

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import Model


class ModelColumns:
    """The concrete columns of `model` as `alias`.column, and the instances made from them."""

    def __init__(self, model: type[Model], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self.pk_index = self.fields.index(model._meta.pk)

    def __len__(self) -> int:
        return len(self.fields)

    @cached_property
    def sql(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    @cached_property
    def _converters(self) -> list[tuple[int, list, Any]]:
        found = []
        for index, field in enumerate(self.fields):
            column = field.get_col(self.alias)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                found.append((index, converters, column))
        return found

    def instance(self, values: Sequence[Any]) -> Model | None:
        """Return the instance of these column values (in `sql`'s order), or None when its key is NULL
        (the unmatched side of a LEFT JOIN)."""
        values = list(values)
        if values[self.pk_index] is None:
            return None
        for index, converters, column in self._converters:
            value = values[index]
            for convert in converters:
                value = convert(value, column, connection)
            values[index] = value
        return self.model.from_db(connection.alias, None, values)
