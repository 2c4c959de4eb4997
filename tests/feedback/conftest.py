import pytest

from fidelis.feedback.services import touchpoint_save


@pytest.fixture
def make_touchpoint(marketing):
    """Create a touchpoint through the service (marketing's), with the given fields over sensible defaults."""

    def _make(name="收银台", stage="purchase", **data):
        return touchpoint_save(actor=marketing, data={"name": name, "stage": stage, "owner_team": "收银组", **data})

    return _make
