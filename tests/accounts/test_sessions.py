"""Signing in and staying signed in through the session engine and the user backend of `fidelis.accounts`:
the same behaviour as Django's database sessions and ModelBackend, the session and its user read by one
statement."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.backends import UserBackend, loading_session
from fidelis.accounts.models import Session, User
from fidelis.accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_user_signs_in_stays_signed_in_and_signs_out(client, manager):
    manager.set_password("a-long-pass-2026")
    manager.save()
    # when the user signs in with the form
    response = client.post(reverse("accounts:login"), {"username": manager.username, "password": "a-long-pass-2026"})
    # then the session carries them from page to page
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 200
    assert client.get(reverse("web:home")).context["user"] == manager
    # and after signing out the same cookie opens nothing
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("web:home")).status_code == 302


def test_an_expired_or_unknown_session_reads_as_empty_and_gets_a_new_key(manager):
    store = SessionStore()
    store["answer"] = 42
    store.create()
    key = store.session_key
    assert SessionStore(key).load() == {"answer": 42}
    # an unknown key: nothing, and the key is forgotten so that saving makes a new one
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None
    # an expired session: nothing either
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None
    # a key Django refuses (too short) is not looked up
    assert SessionStore("short").load() == {}


def test_the_backend_reads_the_user_and_refuses_inactive_or_unknown_ones(manager, users):
    backend = UserBackend()
    assert backend.get_user(manager.pk) == manager and backend.get_user(str(manager.pk)).username == manager.username
    assert backend.get_user(987654321) is None and backend.get_user("not a number") is None
    manager.is_active = False
    manager.save()
    assert backend.get_user(manager.pk) is None


def test_a_deactivated_user_is_signed_out_on_the_next_page(client, manager):
    client.force_login(manager)
    assert client.get(reverse("web:home")).status_code == 200
    manager.is_active = False
    manager.save()
    assert client.get(reverse("web:home")).status_code == 302


def test_a_page_reads_the_session_and_its_user_in_one_statement(client, manager, django_assert_num_queries):
    client.force_login(manager)
    session = Session.objects.get()
    assert session.user_id == manager.pk
    client.get(reverse("web:home"))
    # the session and the user together, then the page's own query ("my day")
    with django_assert_num_queries(2) as captured:
        response = client.get(reverse("web:home"))
    assert response.context["user"] == manager and response.context["user"].role == manager.role
    assert "accounts_user" in captured.captured_queries[0]["sql"]


def test_a_changed_password_still_signs_the_other_sessions_out(client, manager):
    client.force_login(manager)
    assert client.get(reverse("web:home")).status_code == 200
    # the user read with the session is the current row: its password hash no longer matches the session's
    manager.set_password("another-long-pass-2026")
    manager.save()
    assert client.get(reverse("web:home")).status_code == 302


def test_the_backend_takes_the_session_user_only_when_the_ids_agree(manager, sales):
    store = SessionStore()
    store["_auth_user_id"] = str(manager.pk)
    store.create()
    loaded = SessionStore(store.session_key)
    loaded.load()
    assert loaded.prefetched_user == manager and loaded.prefetched_user.is_active is True
    assert loaded.prefetched_user.last_login == User.objects.get(pk=manager.pk).last_login
    backend = UserBackend()
    token = loading_session.set(loaded)
    try:
        assert backend.get_user(manager.pk) is loaded.prefetched_user
        # another id: read from the database, not taken from the session
        other = backend.get_user(sales.pk)
        assert other == sales and other is not loaded.prefetched_user
    finally:
        loading_session.reset(token)


def test_an_anonymous_session_has_no_user_and_deleting_a_user_ends_their_sessions(client, manager):
    store = SessionStore()
    store["django_language"] = "en"
    store.create()
    loaded = SessionStore(store.session_key)
    assert loaded.load() == {"django_language": "en"} and loaded.prefetched_user is None
    client.force_login(manager)
    assert Session.objects.filter(user=manager).count() == 1
    manager_id = manager.pk
    manager.delete()
    assert not Session.objects.filter(user_id=manager_id).exists()
    assert client.get(reverse("web:home")).status_code == 302


def test_expired_sessions_are_cleared_daily_by_the_beat_task(manager, settings):
    from fidelis.accounts.tasks import clear_expired_sessions

    live, old = SessionStore(), SessionStore()
    for store in (live, old):
        store["answer"] = 42
        store.create()
    Session.objects.filter(session_key=old.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    # when the beat task runs
    assert clear_expired_sessions.delay().get() == 1
    # then only the expired session is gone
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["accounts.clear_expired_sessions"] == 24 * 3600
