"""The pipeline pages: the board and its move endpoint (htmx and without JavaScript), the opportunity forms, the
won and lost pages, the 360° panel, contracts."""

import re
from decimal import Decimal

import pytest

from fidelis.pipeline.models import Contract, Opportunity
from fidelis.pipeline.services import contract_create, opportunity_create
from fidelis.sales.models import Order
from tests.pipeline.fixtures import (  # noqa: F401
    rep2_customer_fixture,
    rep2_fixture,
    rep_customer_fixture,
    stages_fixture,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def opp(sales, rep_customer):
    return opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰", expected_amount="20000")


def test_board_shows_columns_with_counts_and_raw_and_weighted_sums(client_for, sales, opp):
    response = client_for(sales).get("/sales/pipeline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "初步接触" in html and "方案报价" in html and f'data-opportunity="{opp.public_id}"' in html
    # raw and weighted at 10 %, written as money
    assert re.search(r'col-raw">¥20,000\.00<', html) and re.search(r'col-weighted">¥2,000\.00<', html)
    assert 'draggable="true"' in html and f'id="stage-{opp.public_id}"' in html


def test_htmx_move_refused_for_a_missing_field_keeps_the_card_and_asks_for_it(client_for, sales, opp, stages):
    response = client_for(sales).post(f"/sales/pipeline/move/{opp.public_id}/", {"stage": stages["方案报价"].pk},
                                      **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="board-error"' in html and 'id="move-expected-close-date"' in html
    opp.refresh_from_db()
    assert opp.stage.name == "初步接触"
    # when the field is filled in
    response = client_for(sales).post(f"/sales/pipeline/move/{opp.public_id}/",
                                      {"stage": stages["方案报价"].pk, "expected_close_date": "2026-08-31"}, **HTMX)
    assert response.status_code == 200 and 'id="board-error"' not in response.content.decode()
    opp.refresh_from_db()
    assert opp.stage.name == "方案报价" and str(opp.expected_close_date) == "2026-08-31"


def test_move_with_an_impossible_date_is_refused(client_for, sales, opp, stages):
    response = client_for(sales).post(f"/sales/pipeline/move/{opp.public_id}/",
                                      {"stage": stages["方案报价"].pk, "expected_close_date": "2026-02-30"})
    assert response.status_code == 400 and 'id="board-error"' in response.content.decode()
    opp.refresh_from_db()
    assert opp.stage.name == "初步接触" and opp.expected_close_date is None


def test_move_without_javascript_redirects_to_the_board(client_for, sales, opp, stages):
    response = client_for(sales).post(f"/sales/pipeline/move/{opp.public_id}/", {"stage": stages["需求确认"].pk})
    assert response.status_code == 302 and response["Location"].startswith("/sales/pipeline/")
    opp.refresh_from_db()
    assert opp.stage.name == "需求确认"


def test_dropping_on_won_sends_to_the_won_page(client_for, sales, opp, stages):
    response = client_for(sales).post(f"/sales/pipeline/move/{opp.public_id}/", {"stage": stages["赢单"].pk}, **HTMX)
    assert response["HX-Redirect"] == f"/sales/opportunities/{opp.public_id}/won/"


def test_lost_from_the_board_needs_a_reason(client_for, sales, opp, stages):
    client = client_for(sales)
    response = client.post(f"/sales/pipeline/move/{opp.public_id}/", {"stage": stages["输单"].pk}, **HTMX)
    assert 'id="move-lost-reason"' in response.content.decode()
    client.post(f"/sales/pipeline/move/{opp.public_id}/", {"stage": stages["输单"].pk, "lost_reason": "price"}, **HTMX)
    opp.refresh_from_db()
    assert opp.status == "lost" and opp.lost_reason == "price"


def test_rep_gets_404_on_another_reps_opportunity(client_for, sales, rep2, rep2_customer, stages):
    other = opportunity_create(actor=rep2, customer=rep2_customer, title="别人的")
    client = client_for(sales)
    assert client.get(f"/sales/opportunities/{other.public_id}/").status_code == 404
    assert client.post(f"/sales/pipeline/move/{other.public_id}/", {"stage": stages["需求确认"].pk}).status_code == 404
    assert other.public_id not in client.get("/sales/pipeline/").content.decode()


def test_create_from_the_customer_page_and_a_bad_date(client_for, sales, rep_customer):
    client = client_for(sales)
    page = client.get(f"/sales/opportunities/new/?customer={rep_customer.public_id}")
    assert page.status_code == 200 and rep_customer.name in page.content.decode()
    for bad in ("2026-02-30", "31/12/2026"):
        response = client.post("/sales/opportunities/new/", {"customer": rep_customer.public_id, "title": "团购",
                                                             "source": "wechat", "expected_close_date": bad})
        assert response.status_code == 400 and 'id="error-expected_close_date"' in response.content.decode()
    assert not Opportunity.objects.exists()
    response = client.post("/sales/opportunities/new/", {"customer": rep_customer.public_id, "title": "团购",
                                                         "source": "wechat", "expected_amount": "5000"})
    opp = Opportunity.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/sales/opportunities/{opp.public_id}/"
    assert (opp.owner, opp.source, opp.expected_amount) == (sales, "wechat", Decimal("5000.00"))


def test_won_page_records_the_order_and_the_contract(client_for, sales, opp, catalogue):
    response = client_for(sales).post(f"/sales/opportunities/{opp.public_id}/won/", {
        "create_order": "on", "product": "WF-101", "quantity": "2", "channel": "store", "store": "2F-01",
        "payment_method": "card", "create_contract": "on", "contract_number": "HT-W-1", "start_date": "2026-01-01",
        "end_date": "2026-12-31"})
    assert response.status_code == 302
    opp.refresh_from_db()
    assert opp.status == "won" and opp.order == Order.objects.get() and opp.order.paid_amount == Decimal("2598.00")
    assert Contract.objects.get().amount == Decimal("20000.00")


def test_customer_panel_lists_the_opportunities_and_is_empty_for_service(client_for, sales, users, opp,
                                                                         rep_customer):
    url = f"/customers/{rep_customer.public_id}/panels/"
    html = client_for(sales).get(url).content.decode()
    assert 'id="opportunities-panel"' in html and opp.title in html
    response = client_for(users["service"]).get(url)
    assert response.status_code == 200 and 'id="opportunities-panel"' not in response.content.decode()


def test_contract_form_refuses_a_reused_number_and_a_bad_date(client_for, sales, rep_customer):
    contract_create(actor=sales, customer=rep_customer, number="HT-9", amount="1", start_date="2026-01-01",
                    end_date="2026-12-31")
    client = client_for(sales)
    data = {"customer": rep_customer.public_id, "number": "HT-9", "amount": "100", "payment_method": "transfer",
            "start_date": "2026-01-01", "end_date": "2026-12-31", "status": "active"}
    response = client.post("/sales/contracts/new/", data)
    assert response.status_code == 400 and 'id="error-number"' in response.content.decode()
    response = client.post("/sales/contracts/new/", data | {"number": "HT-10", "end_date": "31/12/2026"})
    assert response.status_code == 400 and 'id="error-end_date"' in response.content.decode()
    response = client.post("/sales/contracts/new/", data | {"number": "HT-10", "end_date": "2025-12-31"})
    assert response.status_code == 400 and 'id="error-end_date"' in response.content.decode()
    assert Contract.objects.count() == 1
    response = client.post("/sales/contracts/new/", data | {"number": "HT-10"})
    assert response.status_code == 302 and Contract.objects.count() == 2


def test_contract_renew_and_terminate_pages(client_for, sales, rep_customer):
    contract = contract_create(actor=sales, customer=rep_customer, number="HT-R", amount="100",
                               start_date="2026-01-01", end_date="2026-12-31")
    client = client_for(sales)
    assert client.get(f"/sales/contracts/{contract.public_id}/").status_code == 200
    response = client.post(f"/sales/contracts/{contract.public_id}/renew/", {"number": "HT-R2"})
    new = Contract.objects.get(number="HT-R2")
    assert response.status_code == 302 and new.renewal_of == contract
    client.post(f"/sales/contracts/{new.public_id}/terminate/", {"reason": "客户关店"})
    new.refresh_from_db()
    assert new.status == "terminated"
    assert "HT-R2" in client.get("/sales/contracts/").content.decode()
