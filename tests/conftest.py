import pytest
from django.test.utils import override_settings

from fidelis.accounts.models import Role
from tests.factories import UserFactory
from tests.mail import smtp  # noqa: F401 - a fixture for every test package


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hasher():
    """Hash the tests' passwords with one round of MD5 instead of a million of PBKDF2 (a quarter of a second each).

    Every user a test makes has a password, and the login form checks it: the slow hasher used to cost seconds per
    test. PBKDF2 stays in the list so that a hash made with it still checks; nothing in the suite tests the hasher.
    """
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher",
                                             "django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        yield


@pytest.fixture
def users(db):
    """One active user per role, named after the role."""
    return {role: UserFactory(username=role, role=role) for role in Role.values}


@pytest.fixture
def manager(users):
    return users[Role.MANAGER]


@pytest.fixture
def sales(users):
    return users[Role.SALES]


@pytest.fixture
def marketing(users):
    return users[Role.MARKETING]


@pytest.fixture
def readonly(users):
    return users[Role.READONLY]


@pytest.fixture
def client_for(client):
    """Return a test client logged in as the given user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def _fresh_loyalty_programs_cache():
    """Each test starts without the programs a previous test's (rolled back) data left in the rules cache."""
    from fidelis.loyalty.handlers import programs_cache_clear

    programs_cache_clear()
    yield
    programs_cache_clear()


@pytest.fixture(autouse=True)
def _celery_join_flag():
    """Each test starts outside any task as far as Celery knows.

    In-process (eager) tasks set a process-wide "inside a task" flag while they run and put back the value they
    found; eager tasks run by several threads at once (the concurrency tests) can put back another thread's value
    and leave it set, and a later `result.get()` would then refuse to run.
    """
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield
