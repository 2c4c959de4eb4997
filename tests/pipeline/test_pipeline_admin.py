"""Managing pipelines and their stages: the services (default switching, order, delete refused, the open / won /
lost rule, bad input), the pages (managers only, htmx and plain posts) and the API."""

import json

import pytest

from fidelis.accounts.models import AuditEntry, Role
from fidelis.accounts.services import api_token_create
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.pipeline.models import Pipeline, Stage, StageKind
from fidelis.pipeline.services import DEFAULT_STAGES, opportunity_create, pipeline_default
from fidelis.pipeline.stages import pipeline_save, stage_delete, stage_move, stage_save
from tests.pipeline.fixtures import rep_customer_fixture, stages_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _names(pipeline):
    return list(pipeline.stages.order_by("order").values_list("name", flat=True))


@pytest.fixture
def retail(manager):
    """A second pipeline with three stages: one open, one won, one lost."""
    pipeline_default()
    return pipeline_save(actor=manager, data={"name": "门店零售"}, stages=[
        {"name": "到店", "probability": 20},
        {"name": "成交", "probability": 100, "kind": "won"},
        {"name": "流失", "probability": 0, "kind": "lost"}])


# --- services: pipelines ------------------------------------------------------------------------------------------


def test_pipeline_save_creates_a_pipeline_with_the_standard_stages_and_audits_it(manager):
    # given the default pipeline
    default = pipeline_default()
    # when a manager creates another one
    pipeline = pipeline_save(actor=manager, data={"name": " 大客户 ", "is_active": True, "is_default": False})
    # then it has the standard stages, is not the default, and the audit log says so
    assert pipeline.name == "大客户" and not pipeline.is_default
    assert _names(pipeline) == [name for name, *_rest in DEFAULT_STAGES]
    default.refresh_from_db()
    assert default.is_default
    entry = AuditEntry.objects.get(action="pipeline.create", object_id=str(pipeline.pk))
    assert entry.actor == manager and entry.changes["name"] == [None, "大客户"]
    assert entry.changes["stages"][1] == _names(pipeline)


def test_pipeline_save_making_one_default_unsets_the_previous_default(manager, retail):
    # given the standard default pipeline and another one
    default = Pipeline.objects.get(is_default=True)
    assert default.pk != retail.pk
    # when the other is made the default
    pipeline_save(actor=manager, pipeline=retail, data={"is_default": True})
    # then it is the one default
    assert list(Pipeline.objects.filter(is_default=True).values_list("pk", flat=True)) == [retail.pk]
    assert pipeline_default().pk == retail.pk
    assert AuditEntry.objects.get(action="pipeline.update", object_id=str(default.pk)).changes == {
        "is_default": [True, False]}
    assert AuditEntry.objects.get(action="pipeline.update", object_id=str(retail.pk)).changes == {
        "is_default": [False, True]}


def test_pipeline_save_refuses_to_switch_off_or_deactivate_the_default(manager):
    default = pipeline_default()
    with pytest.raises(DomainError) as exc:
        pipeline_save(actor=manager, pipeline=default, data={"is_default": False})
    assert exc.value.field == "is_default"
    with pytest.raises(DomainError) as exc:
        pipeline_save(actor=manager, pipeline=default, data={"is_active": False})
    assert exc.value.field == "is_active"
    default.refresh_from_db()
    assert default.is_default and default.is_active


def test_pipeline_save_first_pipeline_is_the_default(manager):
    # given no pipeline at all
    assert not Pipeline.objects.exists()
    # when the first one is created without asking for it to be the default
    pipeline = pipeline_save(actor=manager, data={"name": "第一个"})
    # then it is the default anyway: there is always exactly one
    assert pipeline.is_default and pipeline_default().pk == pipeline.pk


@pytest.mark.parametrize(("data", "field", "code"), [
    ({"name": "  "}, "name", "required"),
    ({"name": "销售漏斗"}, "name", "duplicate_name"),
    ({"name": "x" * 81}, "name", "too_long"),
    ({"name": "新流程", "is_active": "maybe"}, "is_active", "invalid_choice"),
    ({"name": "新流程", "colour": "red"}, "colour", "unknown_field"),
])
def test_pipeline_save_with_bad_input_is_refused_naming_the_field_and_writes_nothing(manager, data, field, code):
    pipeline_default()
    before = (Pipeline.objects.count(), Stage.objects.count(), AuditEntry.objects.count())
    with pytest.raises(DomainError) as exc:
        pipeline_save(actor=manager, data=data)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert str(exc.value.message)
    assert (Pipeline.objects.count(), Stage.objects.count(), AuditEntry.objects.count()) == before


def test_pipeline_save_with_stages_lacking_a_lost_stage_is_refused_and_writes_nothing(manager):
    pipeline_default()
    with pytest.raises(DomainError) as exc:
        pipeline_save(actor=manager, data={"name": "不完整"}, stages=[
            {"name": "到店", "probability": 20}, {"name": "成交", "probability": 100, "kind": "won"}])
    assert (exc.value.code, exc.value.field, exc.value.params["kind"]) == ("stage_kinds", "stages", "lost")
    assert not Pipeline.objects.filter(name="不完整").exists()


def test_pipeline_save_with_a_bad_stage_names_its_place(manager):
    pipeline_default()
    with pytest.raises(DomainError) as exc:
        pipeline_save(actor=manager, data={"name": "坏阶段"}, stages=[
            {"name": "到店", "probability": 150}, {"name": "成交", "probability": 100, "kind": "won"},
            {"name": "流失", "probability": 0, "kind": "lost"}])
    assert exc.value.field == "stages.0.probability"
    assert not Pipeline.objects.filter(name="坏阶段").exists()


def test_a_sales_rep_may_not_manage_pipelines(sales, stages):
    with pytest.raises(PermissionDenied):
        pipeline_save(actor=sales, data={"name": "我的流程"})
    with pytest.raises(PermissionDenied):
        stage_save(actor=sales, stage=stages["谈判"], data={"probability": 90})
    with pytest.raises(PermissionDenied):
        stage_delete(actor=sales, stage=stages["谈判"])
    assert Stage.objects.get(pk=stages["谈判"].pk).probability == 80


# --- services: stages ---------------------------------------------------------------------------------------------


def test_stage_save_adds_a_stage_last_and_changes_it(manager, retail):
    # when a stage is added
    stage = stage_save(actor=manager, pipeline=retail, data={
        "name": "试穿", "probability": 50, "kind": "open", "required_fields": ["expected_close_date",
                                                                              "expected_amount"]})
    # then it goes last, its required fields in the checker's order
    assert _names(retail) == ["到店", "成交", "流失", "试穿"]
    assert stage.required_fields == ["expected_amount", "expected_close_date"]
    assert AuditEntry.objects.filter(action="stage.create", object_id=str(stage.pk)).exists()
    # when it is changed
    stage_save(actor=manager, stage=stage, data={"name": "试穿体验", "probability": 55, "required_fields": []})
    stage.refresh_from_db()
    assert (stage.name, stage.probability, stage.required_fields) == ("试穿体验", 55, [])
    assert AuditEntry.objects.get(action="stage.update", object_id=str(stage.pk)).changes["probability"] == [50, 55]


def test_stage_move_reorders_the_stages_and_renumbers_them(manager, retail):
    stage = stage_save(actor=manager, pipeline=retail, data={"name": "试穿", "probability": 50})
    # when the new stage is moved to the second place, then to the first
    stage_move(actor=manager, stage=stage, position=2)
    assert _names(retail) == ["到店", "试穿", "成交", "流失"]
    stage_move(actor=manager, stage=stage, position=1)
    # then the order follows, numbered 10, 20, 30…
    assert _names(retail) == ["试穿", "到店", "成交", "流失"]
    assert list(retail.stages.order_by("order").values_list("order", flat=True)) == [10, 20, 30, 40]
    assert AuditEntry.objects.filter(action="stage.move", object_id=str(stage.pk)).count() == 2
    # a place outside the pipeline is refused
    with pytest.raises(DomainError) as exc:
        stage_move(actor=manager, stage=stage, position=5)
    assert exc.value.field == "position"


@pytest.mark.parametrize(("data", "field", "code"), [
    ({"name": "", "probability": 10}, "name", "required"),
    ({"name": "成交", "probability": 10}, "name", "duplicate_name"),
    ({"name": "新阶段", "probability": 150}, "probability", "invalid_probability"),
    ({"name": "新阶段", "probability": -1}, "probability", "invalid_probability"),
    ({"name": "新阶段"}, "probability", "required"),
    ({"name": "新阶段", "probability": 10, "kind": "maybe"}, "kind", "invalid_choice"),
    ({"name": "新阶段", "probability": 10, "required_fields": ["budget"]}, "required_fields",
     "unknown_required_field"),
])
def test_stage_save_with_bad_input_is_refused_naming_the_field_and_writes_nothing(manager, retail, data, field,
                                                                                  code):
    before = (Stage.objects.count(), AuditEntry.objects.count())
    with pytest.raises(DomainError) as exc:
        stage_save(actor=manager, pipeline=retail, data=data)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert (Stage.objects.count(), AuditEntry.objects.count()) == before


def test_stage_save_refuses_to_leave_the_pipeline_without_a_won_stage(manager, retail):
    won = retail.stages.get(kind=StageKind.WON)
    with pytest.raises(DomainError) as exc:
        stage_save(actor=manager, stage=won, data={"kind": "open"})
    assert (exc.value.code, exc.value.field) == ("stage_kinds", "kind")
    won.refresh_from_db()
    assert won.kind == StageKind.WON
    # with a second won stage the first may become open
    stage_save(actor=manager, pipeline=retail, data={"name": "签约", "probability": 100, "kind": "won"})
    stage_save(actor=manager, stage=won, data={"kind": "open", "probability": 90})
    won.refresh_from_db()
    assert won.kind == StageKind.OPEN


def test_stage_save_keeps_the_kind_of_a_stage_holding_opportunities(manager, sales, rep_customer, stages):
    opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰", stage=stages["需求确认"])
    with pytest.raises(DomainError) as exc:
        stage_save(actor=manager, stage=stages["需求确认"], data={"kind": "lost"})
    assert (exc.value.code, exc.value.field) == ("stage_in_use", "kind")
    # other fields of the stage may change
    stage_save(actor=manager, stage=stages["需求确认"], data={"name": "需求分析", "probability": 35})
    assert Stage.objects.get(pk=stages["需求确认"].pk).name == "需求分析"


def test_stage_delete_of_a_stage_holding_opportunities_is_refused(manager, sales, rep_customer, stages):
    opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰", stage=stages["需求确认"])
    with pytest.raises(DomainError) as exc:
        stage_delete(actor=manager, stage=stages["需求确认"])
    assert (exc.value.code, exc.value.field, exc.value.params["opportunities"]) == ("stage_in_use", "stage", 1)
    assert "需求确认" in str(exc.value.message)
    assert Stage.objects.filter(pk=stages["需求确认"].pk).exists()
    assert not AuditEntry.objects.filter(action="stage.delete").exists()


def test_stage_delete_of_a_stage_in_the_history_is_refused(manager, sales, rep_customer, stages):
    # given an opportunity that started in a stage and left it
    from fidelis.pipeline.services import opportunity_move

    opp = opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰", stage=stages["需求确认"])
    opportunity_move(actor=sales, opportunity=opp, stage=stages["初步接触"])
    # when the empty stage is deleted, then its history keeps it
    with pytest.raises(DomainError) as exc:
        stage_delete(actor=manager, stage=stages["需求确认"])
    assert exc.value.code == "stage_has_history"
    assert Stage.objects.filter(pk=stages["需求确认"].pk).exists()


def test_stage_delete_of_an_unused_stage_deletes_and_audits_it(manager, retail):
    stage = stage_save(actor=manager, pipeline=retail, data={"name": "试穿", "probability": 50})
    stage_delete(actor=manager, stage=stage)
    assert _names(retail) == ["到店", "成交", "流失"]
    entry = AuditEntry.objects.get(action="stage.delete", object_id=str(stage.pk))
    assert entry.changes["name"] == ["试穿", None] and entry.changes["pipeline"] == ["门店零售", None]


def test_stage_delete_of_the_last_lost_stage_is_refused(manager, retail):
    with pytest.raises(DomainError) as exc:
        stage_delete(actor=manager, stage=retail.stages.get(kind=StageKind.LOST))
    assert (exc.value.code, exc.value.params["kind"]) == ("stage_kinds", "lost")
    assert retail.stages.count() == 3


# --- pages --------------------------------------------------------------------------------------------------------


def test_board_links_to_the_pipelines_and_the_list_shows_counts(client_for, manager, sales, rep_customer, stages,
                                                                retail):
    opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰")
    client = client_for(manager)
    assert 'id="pipelines-manage"' in client.get("/sales/pipeline/").content.decode()
    response = client.get("/sales/pipelines/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pipeline-new"' in html and "门店零售" in html
    default = pipeline_default()
    row = html[html.index(f'data-pipeline="{default.pk}"'):]
    assert f'stage-count">{len(DEFAULT_STAGES)}<' in row and '>1</a>' in row.split("</tr>")[0]


def test_a_sales_rep_reads_the_list_but_may_not_change_pipelines(client_for, sales, retail):
    client = client_for(sales)
    response = client.get("/sales/pipelines/")
    assert response.status_code == 200 and 'id="pipeline-new"' not in response.content.decode()
    stage = retail.stages.first()
    assert client.get("/sales/pipelines/new/").status_code == 403
    assert client.post("/sales/pipelines/new/", {"name": "我的流程"}).status_code == 403
    assert client.get(f"/sales/pipelines/{retail.pk}/").status_code == 403
    assert client.post(f"/sales/pipelines/{retail.pk}/stages/", {"name": "x", "probability": 5,
                                                                 "kind": "open"}).status_code == 403
    assert client.post(f"/sales/pipelines/stages/{stage.pk}/delete/").status_code == 403
    assert client.post(f"/sales/pipelines/stages/{stage.pk}/move/", {"direction": "down"}).status_code == 403
    assert not Pipeline.objects.filter(name="我的流程").exists() and retail.stages.count() == 3


def test_manager_creates_a_pipeline_and_makes_it_the_default(client_for, manager):
    pipeline_default()
    client = client_for(manager)
    response = client.post("/sales/pipelines/new/", {"name": "大客户", "is_active": "on"})
    pipeline = Pipeline.objects.get(name="大客户")
    assert response.status_code == 302 and response["Location"] == f"/sales/pipelines/{pipeline.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert 'id="stage-table"' in page and all(name in page for name, *_rest in DEFAULT_STAGES)
    # when it is made the default
    response = client.post(f"/sales/pipelines/{pipeline.pk}/", {"name": "大客户", "is_active": "on",
                                                                "is_default": "on"})
    assert response.status_code == 302
    assert list(Pipeline.objects.filter(is_default=True)) == [pipeline]


def test_pipeline_form_shows_the_refusal_on_the_field(client_for, manager):
    default = pipeline_default()
    response = client_for(manager).post(f"/sales/pipelines/{default.pk}/", {"name": "销售漏斗", "is_active": "on"})
    assert response.status_code == 400
    assert 'id="error-is_default"' in response.content.decode()
    default.refresh_from_db()
    assert default.is_default
    response = client_for(manager).post("/sales/pipelines/new/", {"name": "销售漏斗"})
    assert response.status_code == 400 and 'id="error-name"' in response.content.decode()


def test_stage_add_edit_move_and_delete_with_plain_posts(client_for, manager, retail):
    client = client_for(manager)
    # add
    response = client.post(f"/sales/pipelines/{retail.pk}/stages/", {
        "name": "试穿", "probability": "50", "kind": "open", "required_fields": ["expected_amount"]})
    assert response.status_code == 302 and response["Location"] == f"/sales/pipelines/{retail.pk}/"
    stage = retail.stages.get(name="试穿")
    assert stage.required_fields == ["expected_amount"]
    # edit: the page shows the stage's form in its row
    page = client.get(f"/sales/pipelines/stages/{stage.pk}/").content.decode()
    assert 'id="stage-edit-form"' in page and f'id="stage-{stage.pk}-name"' in page
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/",
                           {"name": "试穿体验", "probability": "150", "kind": "open"})
    assert response.status_code == 400 and 'id="error-probability"' in response.content.decode()
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/",
                           {"name": "试穿体验", "probability": "60", "kind": "open"})
    assert response.status_code == 302
    # move up twice
    client.post(f"/sales/pipelines/stages/{stage.pk}/move/", {"direction": "up"})
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/move/", {"direction": "up"})
    assert response.status_code == 302 and _names(retail) == ["到店", "试穿体验", "成交", "流失"]
    # delete
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/delete/")
    assert response.status_code == 302 and _names(retail) == ["到店", "成交", "流失"]


def test_delete_refused_shows_why_on_the_page_and_in_the_htmx_table(client_for, manager, sales, rep_customer, stages):
    opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰")
    stage = stages["初步接触"]
    client = client_for(manager)
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/delete/")
    assert response.status_code == 400
    assert 'id="stage-error"' in response.content.decode() and "初步接触" in response.content.decode()
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/delete/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="stage-table"') and 'id="stage-error"' in html
    assert Stage.objects.filter(pk=stage.pk).exists()


def test_htmx_stage_edit_swaps_the_table(client_for, manager, retail):
    client = client_for(manager)
    stage = retail.stages.get(name="到店")
    # the edit link opens the form in the row
    response = client.get(f"/sales/pipelines/stages/{stage.pk}/", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="stage-table"') and 'id="stage-edit-form"' in html
    # a refused save keeps the form with the error
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/", {"name": "成交", "probability": "20",
                                                                    "kind": "open"}, **HTMX)
    assert response.status_code == 200 and 'id="error-name"' in response.content.decode()
    # a good one answers the table with the notice
    response = client.post(f"/sales/pipelines/stages/{stage.pk}/", {"name": "进店", "probability": "25",
                                                                    "kind": "open"}, **HTMX)
    html = response.content.decode()
    assert 'id="stage-notice"' in html and 'id="stage-edit-form"' not in html and "进店" in html
    # a stage added through htmx answers the table too
    response = client.post(f"/sales/pipelines/{retail.pk}/stages/", {"name": "复购", "probability": "30",
                                                                     "kind": "open"}, **HTMX)
    assert response.status_code == 200 and "复购" in response.content.decode()
    assert _names(retail) == ["进店", "成交", "流失", "复购"]


# --- API ----------------------------------------------------------------------------------------------------------


def _auth(manager, user):
    _token, raw = api_token_create(actor=manager, user=user, name="CRM", scopes=["sales:read", "sales:write"])
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _call(client, auth, method, path, body=None):
    return client.generic(method, f"/api/sales{path}", data=json.dumps(body) if body is not None else "",
                          content_type="application/json", **auth)


@pytest.fixture
def manager_auth(manager):
    return _auth(manager, manager)


def test_api_lists_the_pipelines_with_their_stages_to_a_sales_rep(client, manager, sales, retail):
    response = _call(client, _auth(manager, sales), "GET", "/pipelines")
    assert response.status_code == 200
    body = response.json()
    assert [p["name"] for p in body] == ["销售漏斗", "门店零售"] and body[0]["is_default"]
    assert [(s["name"], s["position"], s["kind"]) for s in body[1]["stages"]] == [
        ("到店", 1, "open"), ("成交", 2, "won"), ("流失", 3, "lost")]
    assert body[0]["stages"][2]["required_fields"] == ["expected_amount", "expected_close_date"]


def test_api_creates_and_patches_a_pipeline(client, manager_auth):
    pipeline_default()
    response = _call(client, manager_auth, "POST", "/pipelines", {
        "name": "渠道", "is_default": True, "stages": [
            {"name": "洽谈", "probability": 30}, {"name": "签约", "probability": 100, "kind": "won"},
            {"name": "放弃", "probability": 0, "kind": "lost"}]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_default"] and [s["name"] for s in body["stages"]] == ["洽谈", "签约", "放弃"]
    assert Pipeline.objects.get(is_default=True).name == "渠道"
    response = _call(client, manager_auth, "PATCH", f"/pipelines/{body['id']}", {"name": "渠道销售"})
    assert response.status_code == 200 and response.json()["name"] == "渠道销售"
    # the default cannot be switched off
    response = _call(client, manager_auth, "PATCH", f"/pipelines/{body['id']}", {"is_default": False})
    assert response.status_code == 400 and response.json()["field"] == "is_default"


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), [
    ("POST", "/pipelines", {}, 422, "name"),
    ("POST", "/pipelines", {"name": "x", "colour": "red"}, 422, "colour"),
    ("POST", "/pipelines", {"name": "  "}, 400, "name"),
    ("POST", "/pipelines", {"name": "销售漏斗"}, 400, "name"),
    ("POST", "/pipelines", {"name": "x", "stages": [{"name": "a", "probability": 5}]}, 400, "stages"),
    ("POST", "/pipelines/{p}/stages", {"name": "新阶段", "probability": 150}, 400, "probability"),
    ("POST", "/pipelines/{p}/stages", {"name": "新阶段", "probability": "many"}, 422, "probability"),
    ("POST", "/pipelines/{p}/stages", {"name": "新阶段", "probability": 5, "required_fields": ["budget"]}, 400,
     "required_fields"),
    ("PATCH", "/stages/{s}", {"kind": "lost"}, 400, "kind"),
    ("PATCH", "/stages/{s}", {"position": 0}, 400, "position"),
])
def test_api_bad_input_is_a_json_error_naming_the_field(client, manager_auth, retail, method, path, body, status,
                                                        field):
    stage = retail.stages.get(kind=StageKind.WON)
    before = (Pipeline.objects.count(), Stage.objects.count())
    response = _call(client, manager_auth, method, path.format(p=retail.pk, s=stage.pk), body)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and response.json()["message"]
    assert (Pipeline.objects.count(), Stage.objects.count()) == before


def test_api_adds_moves_patches_and_deletes_a_stage(client, manager_auth, retail):
    response = _call(client, manager_auth, "POST", f"/pipelines/{retail.pk}/stages",
                     {"name": "试穿", "probability": 50, "position": 2, "required_fields": ["products"]})
    assert response.status_code == 201, response.content
    stage = response.json()
    assert (stage["position"], stage["pipeline"], stage["required_fields"]) == (2, retail.pk, ["products"])
    assert _names(retail) == ["到店", "试穿", "成交", "流失"]
    response = _call(client, manager_auth, "PATCH", f"/stages/{stage['id']}", {"probability": 60, "position": 1})
    assert response.status_code == 200 and (response.json()["probability"], response.json()["position"]) == (60, 1)
    response = _call(client, manager_auth, "DELETE", f"/stages/{stage['id']}")
    assert response.status_code == 204
    assert _names(retail) == ["到店", "成交", "流失"]
    assert _call(client, manager_auth, "DELETE", f"/stages/{stage['id']}").status_code == 404


def test_api_delete_of_a_stage_holding_opportunities_is_refused(client, manager_auth, sales, rep_customer, stages):
    opportunity_create(actor=sales, customer=rep_customer, title="婚庆金饰")
    response = _call(client, manager_auth, "DELETE", f"/stages/{stages['初步接触'].pk}")
    assert response.status_code == 400
    assert response.json()["field"] == "stage" and response.json()["code"] == "stage_in_use"
    assert Stage.objects.filter(pk=stages["初步接触"].pk).exists()


def test_api_a_sales_rep_may_not_manage_pipelines(client, manager, users, retail):
    for role in (Role.SALES, Role.MARKETING, Role.READONLY):
        auth = _auth(manager, users[role])
        assert _call(client, auth, "POST", "/pipelines", {"name": "我的流程"}).status_code == 403
        assert _call(client, auth, "PATCH", f"/pipelines/{retail.pk}", {"name": "改名"}).status_code == 403
        stage = retail.stages.first()
        assert _call(client, auth, "DELETE", f"/stages/{stage.pk}").status_code == 403
    assert not Pipeline.objects.filter(name__in=["我的流程", "改名"]).exists() and retail.stages.count() == 3
