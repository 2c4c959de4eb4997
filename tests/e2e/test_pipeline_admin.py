"""A manager sets up a second sales pipeline in the browser: creates it (with the standard stages), adds a stage
and moves it into place with htmx, is refused deleting the only won stage, and finds the pipeline on the board."""

import pytest
from playwright.sync_api import expect

from fidelis.accounts.models import AuditEntry, Role
from fidelis.pipeline.models import Pipeline, StageKind

pytestmark = pytest.mark.e2e


def test_manager_builds_a_pipeline_with_its_stages(page, live_server, staff, log_in, artifacts):
    # given: the manager on the pipelines page, reached from the board
    manager = staff[Role.MANAGER]
    log_in(page, "manager")
    page.goto(f"{live_server.url}/sales/pipeline/")
    with page.expect_navigation():
        page.click("text=管理销售流程")
    # when: they create the pipeline 企业团购
    with page.expect_navigation():
        page.click("text=新建销售流程")
    page.fill("#id_name", "企业团购")
    with page.expect_navigation():
        page.click("#pipeline-save")
    pipeline = Pipeline.objects.get(name="企业团购")
    stages = page.locator("#stages tbody tr")
    expect(stages).to_have_count(6)  # the standard stages
    # and add the stage 样品试用 (50 %), which goes last, then move it up twice (htmx swaps the table)
    page.fill("#new-stage-name", "样品试用")
    page.fill("#new-stage-probability", "50")
    page.click("#stage-add")
    expect(page.locator("#stage-notice")).to_contain_text("样品试用")
    expect(stages.nth(6)).to_contain_text("样品试用")
    for expected_row in (5, 4):
        page.locator("#stages tbody tr", has_text="样品试用").locator("button[title='上移']").click()
        expect(stages.nth(expected_row)).to_contain_text("样品试用")
    # and try to delete 赢单, the pipeline's only won stage
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#stages tbody tr", has_text="赢单").locator("button.danger").click()
    expect(page.locator("#stage-error")).to_contain_text("至少保留一个进行中、一个赢单和一个输单阶段")
    page.screenshot(path=str(artifacts / "sales-pipeline-stages.png"), full_page=True)
    # then: the stages are stored in that order, the refusal changed nothing, every change is audited
    names = list(pipeline.stages.order_by("order").values_list("name", flat=True))
    assert names[4] == "样品试用" and len(names) == 7
    assert pipeline.stages.filter(kind=StageKind.WON).count() == 1
    actions = set(AuditEntry.objects.filter(actor=manager).values_list("action", flat=True))
    assert {"pipeline.create", "stage.create", "stage.move"} <= actions and "stage.delete" not in actions
    # and the board offers the new pipeline with its columns
    page.goto(f"{live_server.url}/sales/pipeline/?pipeline={pipeline.pk}")
    expect(page.locator(".board-col[data-stage-name='样品试用']")).to_be_visible()
