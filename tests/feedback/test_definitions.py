"""Survey definitions: what a survey may ask, jumps that only go forward, and answers checked against it."""

import pytest
from django.utils import translation

from fidelis.core.errors import DomainError
from fidelis.feedback.definitions import answers_clean, definition_parse


def _q(key, kind, zh="问题", **extra):
    return {"key": key, "kind": kind, "text": {"zh": zh, "en": key.title()}, **extra}


CHECKOUT = {"questions": [
    _q("nps", "nps", "您向朋友推荐本商场的可能性有多大？", jumps=[{"when": [9, 10], "to": "end"}]),
    _q("why", "text", "主要原因是什么？", required=False),
    _q("service", "rating", "收银服务满意度", points=5, low={"zh": "非常不满意"}, high={"zh": "非常满意"}),
    _q("visit", "single", "您多久来一次？", options=[
        {"value": "weekly", "label": {"zh": "每周"}}, {"value": "monthly", "label": {"zh": "每月"}}],
       jumps=[{"when": ["monthly"], "to": "items"}]),
    _q("parking", "multi", "停车遇到哪些问题？", required=False, options=[
        {"value": "queue", "label": {"zh": "排队"}}, {"value": "price", "label": {"zh": "收费"}}]),
    _q("items", "matrix", "请评价以下方面", points=7, rows=[
        {"value": "clean", "label": {"zh": "清洁"}}, {"value": "staff", "label": {"zh": "员工"}}]),
]}


def test_a_promoter_jumps_to_the_end_and_answers_nothing_else():
    survey = definition_parse(CHECKOUT)
    assert answers_clean(survey, {"nps": "10"}) == {"nps": 10}


def test_a_detractor_answers_the_rest_following_the_jumps():
    survey = definition_parse(CHECKOUT)
    answers = {"nps": 3, "why": " 排队太久 ", "service": 2, "visit": "monthly", "items": {"clean": 6, "staff": "7"}}
    # "monthly" jumps over the parking question to the matrix
    assert answers_clean(survey, answers) == {"nps": 3, "why": "排队太久", "service": 2, "visit": "monthly",
                                              "items": {"clean": 6, "staff": 7}}


@pytest.mark.parametrize(("answers", "field", "code"), [
    ({"nps": 11}, "nps", "invalid_answer"),
    ({"nps": True}, "nps", "invalid_answer"),
    ({"nps": 3, "service": 6, "visit": "weekly", "items": {"clean": 1, "staff": 1}}, "service", "invalid_answer"),
    ({"nps": 3, "visit": "weekly", "items": {"clean": 1, "staff": 1}}, "service", "required"),
    ({"nps": 3, "service": 3, "visit": "yearly"}, "visit", "invalid_answer"),
    ({"nps": 3, "service": 3, "visit": "weekly", "parking": ["queue", "free"], "items": {"clean": 1, "staff": 1}},
     "parking", "invalid_answer"),
    ({"nps": 3, "service": 3, "visit": "weekly", "items": {"clean": 1}}, "items", "invalid_answer"),
    ({"nps": 3, "service": 3, "visit": "monthly", "parking": ["queue"], "items": {"clean": 1, "staff": 1}},
     "parking", "skipped_question"),
    ({"nps": 9, "service": 3}, "service", "skipped_question"),
    ({"nps": 3, "colour": "red"}, "colour", "unknown_question"),
    ({"nps": 3, "why": "x" * 2001}, "why", "invalid_answer"),
])
def test_answers_that_do_not_fit_are_refused_naming_the_question(answers, field, code):
    with pytest.raises(DomainError) as refused:
        answers_clean(definition_parse(CHECKOUT), answers)
    assert (refused.value.field, refused.value.code) == (field, code)


def test_a_refusal_names_the_question_in_the_viewers_language():
    survey = definition_parse(CHECKOUT)
    with translation.override("en"), pytest.raises(DomainError) as refused:
        answers_clean(survey, {"nps": 3, "visit": "weekly"})
    assert str(refused.value.message) == "Please answer: Service"
    with translation.override("zh-hans"), pytest.raises(DomainError) as refused:
        answers_clean(survey, {"nps": 3, "visit": "weekly"})
    assert "收银服务满意度" in str(refused.value.message)


@pytest.mark.parametrize(("questions", "where"), [
    ([_q("a", "rating", points=5), _q("b", "nps", jumps=[{"when": [0], "to": "a"}])], "jumps back"),
    ([_q("a", "nps", jumps=[{"when": [0], "to": "a"}])], "jumps back"),
    ([_q("a", "nps", jumps=[{"when": [0], "to": "zz"}])], "no question"),
    ([_q("a", "nps", jumps=[{"when": [12], "to": "end"}])], "no answer"),
    ([_q("a", "rating", points=4)], "scale"),
    ([_q("a", "single", options=[{"value": "x", "label": {"zh": "X"}}])], "two options"),
    ([_q("a", "text", jumps=[{"when": ["x"], "to": "end"}])], "can jump"),
    ([_q("a", "nps"), _q("a", "nps")], "twice"),
    ([_q("A b", "nps")], "lowercase"),
    ([], "at least one question"),
    ([{"key": "a", "kind": "nps", "text": {"zh": " "}}], "Chinese text"),
    ([{"key": "a", "kind": "slider", "text": {"zh": "问"}}], ""),
])
def test_a_definition_that_could_loop_or_cannot_be_answered_is_refused(questions, where):
    with pytest.raises(DomainError) as refused:
        definition_parse({"questions": questions})
    assert refused.value.code == "invalid_survey" and where in str(refused.value.message)


def test_texts_show_in_the_viewers_language_with_chinese_when_english_is_missing():
    survey = definition_parse({"questions": [_q("a", "nps", "推荐吗？"), {"key": "b", "kind": "text",
                                                                          "text": {"zh": "建议"}}]})
    assert survey.question("a").text.shown("en") == "A" and survey.question("a").text.shown("zh-hans") == "推荐吗？"
    assert survey.question("b").text.shown("en") == "建议"
