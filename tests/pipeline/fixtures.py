"""Shared fixtures of the pipeline tests: two reps with a customer each, and the default pipeline's stages.

Import the `*_fixture` functions into a test module to use the fixtures by their short names."""

import pytest

from fidelis.accounts.models import Role
from fidelis.customers.services import customer_create
from fidelis.pipeline.services import pipeline_default
from tests.factories import UserFactory


@pytest.fixture(name="rep2")
def rep2_fixture(db):
    return UserFactory(username="sales2", role=Role.SALES)


@pytest.fixture(name="stages")
def stages_fixture(db):
    pipeline = pipeline_default()
    return {stage.name: stage for stage in pipeline.stages.all()}


@pytest.fixture(name="rep_customer")
def rep_customer_fixture(manager, sales):
    return customer_create(actor=manager, owner=sales, data={"name": "林晓", "phone": "13600136000"})


@pytest.fixture(name="rep2_customer")
def rep2_customer_fixture(manager, rep2):
    return customer_create(actor=manager, owner=rep2, data={"name": "周杰", "phone": "13600136001"})
