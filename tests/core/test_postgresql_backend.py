"""The PostgreSQL backend reads timestamps with psycopg's compiled loader, giving what Django's loader gives."""

import datetime

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

VALUES = ["2026-12-04 22:58:54.713886+00", "2026-01-01 10:00:00+08", "1999-12-31 23:59:59.999999-05:30",
          "2024-02-29 00:00:00+14", "0001-01-02 00:00:00+00", "2026-03-29 02:30:00+01"]


@pytest.fixture
def pg():
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL backend needs PostgreSQL")


def _read(cursor) -> list:
    cursor.execute("SELECT v::timestamptz FROM unnest(%s::text[]) AS v", [VALUES])
    return [row[0] for row in cursor.fetchall()]


def test_timestamps_read_as_with_djangos_loader(pg):
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    from fidelis.core.postgresql.base import UtcTimestamptzLoader

    with connection.cursor() as cursor:
        assert connection.settings_dict["ENGINE"] == "fidelis.core.postgresql"
        assert cursor.cursor.adapters.get_loader(1184, 0) is UtcTimestamptzLoader
        ours = _read(cursor)
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)  # Django's own, on this cursor only
        assert cursor.cursor.adapters.get_loader(1184, 0) is not UtcTimestamptzLoader
        djangos = _read(cursor)
    assert ours == djangos and len(ours) == len(VALUES)
    assert all(value.tzinfo is datetime.UTC for value in ours)
    assert ours[1] == datetime.datetime(2026, 1, 1, 2, 0, tzinfo=datetime.UTC)


def test_models_and_nulls_read_through_the_orm(pg, manager):
    from fidelis.accounts.models import User

    manager.last_login = None
    manager.save()
    again = User.objects.get(pk=manager.pk)
    assert again.last_login is None and again.date_joined == manager.date_joined
    assert again.date_joined.tzinfo is datetime.UTC
