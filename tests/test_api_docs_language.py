"""The OpenAPI document (/api/openapi.json, shown at /api/docs) speaks the language of each request."""

import pytest
from django.conf import settings
from django.test import Client

SEARCH = {"zh-hans": "搜索或列出客户", "zh-hant": "搜尋或列出客戶", "en": "Search or list customers"}
NOT_FOUND = {"zh-hans": "未找到，或调用者无权查看", "zh-hant": "未找到，或呼叫者無權檢視",
             "en": "Not found, or not visible to the caller"}
CONTRACT_RENEW = {"zh-hans": "续签合同", "en": "Renew a contract"}


def _document(client: Client, language: str) -> dict:
    response = client.get("/api/openapi.json", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["zh-hans", "zh-hant", "en"])
def test_operation_summaries_and_error_answers_are_in_the_callers_language(client, language):
    # when the document is asked for in a language
    document = _document(client, language)
    # then the customer search, its 404 answer and an opportunity operation speak it
    search = document["paths"]["/api/customers"]["get"]
    assert search["summary"] == SEARCH[language]
    assert search["responses"]["404"]["description"] == NOT_FOUND[language]
    renew = document["paths"]["/api/sales/contracts/{public_id}/renew"]["post"]
    if language in CONTRACT_RENEW:
        assert renew["summary"] == CONTRACT_RENEW[language]


@pytest.mark.django_db
def test_descriptions_keep_code_names_untranslated_in_chinese(client):
    document = _document(client, "zh-hans")
    # the operation description is Chinese around the literal values it names
    description = document["paths"]["/api/sales/pipelines/{pipeline_id}"]["patch"]["description"]
    assert "`is_default: true`" in description and "默认流程" in description
    assert "order.paid" in document["paths"]["/api/loyalty/orders"]["post"]["summary"]
    assert document["paths"]["/api/loyalty/orders"]["post"]["summary"].startswith("已付款订单")
    # and the error body's fields and the API description too
    error = document["components"]["schemas"]["ErrorOut"]
    assert error["description"].startswith("所有拒绝应答")
    assert error["properties"]["message"]["description"] == "供人阅读，使用 Accept-Language 指定的语言"
    assert document["info"]["description"].startswith("面向 POS、网店和微信公众号的接口")
    assert document["components"]["schemas"]["StageIn"]["description"].startswith("销售阶段：")
    # and so are the answers ninja would name by their HTTP reason phrase ("OK", "Conflict")
    assert document["paths"]["/api/customers"]["get"]["responses"]["200"]["description"] == "成功"
    assert document["paths"]["/api/customers"]["post"]["responses"]["409"]["description"].startswith("与已存储的数据冲突")
    assert document["components"]["securitySchemes"]["TokenAuth"]["description"].startswith("API 令牌")


@pytest.mark.django_db
def test_the_same_client_gets_each_language_it_asks_for(client):
    # given one client that asks in English, then in Chinese, then in English again
    answers = [_document(client, language) for language in ("en", "zh-hans", "en")]
    # then each document is in the language of its own request (none is kept from an earlier one)
    summaries = [a["paths"]["/api/customers"]["get"]["summary"] for a in answers]
    assert summaries == [SEARCH["en"], SEARCH["zh-hans"], SEARCH["en"]]
    errors = [a["components"]["schemas"]["ErrorOut"]["properties"]["code"]["description"] for a in answers]
    assert errors[0] == errors[2] != errors[1]
    assert errors[0].startswith("Stable, for programs")


@pytest.mark.django_db
def test_the_language_cookie_chooses_the_documents_language(client):
    # given a client whose language cookie says English while its browser asks for Chinese
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    # then the cookie wins, as on every page
    assert _document(client, "zh-hans")["paths"]["/api/customers"]["get"]["summary"] == SEARCH["en"]


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "body_field", "query_parameter"), [
    ("zh-hans", "整单折扣，单位 CNY", "订单编号或其开头部分"),
    ("en", "Discount on the whole order, CNY", "Order number, or its beginning"),
])
def test_field_and_parameter_descriptions_are_in_the_callers_language(client, language, body_field,
                                                                      query_parameter):
    document = _document(client, language)
    # a field of a request body
    assert document["components"]["schemas"]["OrderIn"]["properties"]["discount"]["description"] == body_field
    # and a query parameter
    parameters = document["paths"]["/api/sales/orders"]["get"]["parameters"]
    assert next(p for p in parameters if p["name"] == "q")["description"] == query_parameter
    # while a list of literal values stays as it is
    assert document["components"]["schemas"]["OrderIn"]["properties"]["channel"]["description"] == (
        "store | online | wechat | phone")
