"""The member card: the card code as QR code and Code 128 (SVG), on the page, printable, and through the API."""

import pytest
from django.urls import reverse

from fidelis.accounts.models import Role
from fidelis.accounts.services import api_token_create
from fidelis.loyalty.cards import card_svg
from tests.factories import UserFactory


@pytest.fixture
def pos(manager, db):
    desk = UserFactory(username="desk", role=Role.SERVICE)
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(actor=manager, user=desk, name='POS', scopes=['loyalty:read'])[1]}"}


@pytest.mark.parametrize("kind", ["qr", "code128"])
def test_each_symbol_is_an_svg_on_white(kind):
    svg = card_svg("P3X32E48M46Z", kind).decode()
    assert "<svg" in svg and ("#fff" in svg or "white" in svg)


def test_the_card_page_shows_the_code_and_links_both_symbols(client_for, users, member):
    client = client_for(users[Role.SERVICE])
    page = client.get(reverse("loyalty:member_card", args=[member.public_id])).content.decode()
    assert member.card_code in page and member.number in page
    for kind in ("qr", "code128"):
        url = reverse("loyalty:member_card_symbol", args=[member.public_id, kind])
        assert url in page
        response = client.get(url)
        assert response["Content-Type"] == "image/svg+xml" and response.content == card_svg(member.card_code, kind)
    assert client.get(reverse("loyalty:member_card_symbol", args=[member.public_id, "ean13"])).status_code == 404


def test_the_api_gives_the_symbols_of_the_card_code(client, pos, member):
    response = client.get(f"/api/loyalty/members/{member.number}/card.svg?kind=code128", **pos)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content == card_svg(member.card_code, "code128")
    assert client.get(f"/api/loyalty/members/{member.number}/card.svg", **pos).content == card_svg(
        member.card_code, "qr")
    assert client.get(f"/api/loyalty/members/{member.number}/card.svg?kind=ean13", **pos).status_code == 422
    assert client.get("/api/loyalty/members/NOPE/card.svg", **pos).status_code == 404
