from tests.sales.conftest import catalogue  # noqa: F401 - the stores and products opportunities are won with
