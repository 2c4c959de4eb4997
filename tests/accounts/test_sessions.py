"""Signing in and staying signed in through the session engine and the user backend of `fidelis.accounts`:
the same behaviour as Django's database sessions and ModelBackend, each row read by one statement."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.backends import UserBackend
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
