import pytest
from django.core.exceptions import ImproperlyConfigured

from fidelis.config.env import env_bool, env_int, env_list, env_str


def test_env_bool_refuses_an_unclear_value(monkeypatch):
    monkeypatch.setenv("FIDELIS_X", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FIDELIS_X"):
        env_bool("FIDELIS_X", False)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("Yes", True), ("off", False), ("", False)])
def test_env_bool_reads_yes_and_no(monkeypatch, raw, expected):
    monkeypatch.setenv("FIDELIS_X", raw)
    assert env_bool("FIDELIS_X", not expected) is expected


def test_env_int_refuses_text(monkeypatch):
    monkeypatch.setenv("FIDELIS_N", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_int("FIDELIS_N", 1)


def test_env_str_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("FIDELIS_KEY_FILE", str(secret))
    assert env_str("FIDELIS_KEY") == "s3cret"


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("FIDELIS_HOSTS", "a.example, b.example,,")
    assert env_list("FIDELIS_HOSTS", []) == ["a.example", "b.example"]
