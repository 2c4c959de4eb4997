"""The navigation knows the pipeline's pages by their pipeline: names."""

import pytest
from django.urls import reverse

from fidelis.web.context_processors import nav_items

pytestmark = pytest.mark.django_db


def test_board_page_shows_the_pipeline_and_contract_entries_with_the_pipeline_active(client_for, manager):
    # when a manager opens the board
    response = client_for(manager).get(reverse("pipeline:board"))
    # then the navigation links the board and the contracts, and marks the pipeline entry active
    items = {item["name"]: item for item in nav_items(response.wsgi_request)}
    assert items["pipeline:board"]["url"] == "/sales/pipeline/" and items["pipeline:board"]["active"]
    assert items["pipeline:contracts"]["url"] == "/sales/contracts/"
    assert not items["sales:report_sales"]["active"]
