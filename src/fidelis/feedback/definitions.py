"""What a survey asks, and what an answer to it must be.

A survey version holds its questions as a definition (`SurveyDefinition`, stored as JSON): each question has a
key, a kind (rating scale, NPS, single or multiple choice, free text, matrix), its text in Chinese and English,
whether it must be answered, and jumps ("when the answer is … go to question …"). A jump goes forward only, so the
questions can never loop. `answers_clean` checks an answer set against the definition: the questions on the path
the answers take, each answer in its scale or options, the required ones given.
"""

import re
from enum import StrEnum
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from fidelis.core.errors import DomainError
from fidelis.feedback.errors import FeedbackCode

END = "end"  # a jump's target that ends the survey
KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
SCALES = (5, 7, 10)  # the rating scales offered: 1–5, 1–7, 1–10
TEXT_MAX = 2000  # characters of a free-text answer


class QuestionKind(StrEnum):
    RATING = "rating"
    NPS = "nps"
    SINGLE = "single"
    MULTI = "multi"
    TEXT = "text"
    MATRIX = "matrix"


class Words(BaseModel):
    """A text in Chinese and, where given, English; shown in the viewer's language."""

    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str = ""

    @field_validator("zh")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the Chinese text is required")
        return value.strip()

    def shown(self, language: str | None = None) -> str:
        """Return the text for `language` (the active one by default): English when asked for and given."""
        return self.en if (language or get_language() or "").startswith("en") and self.en else self.zh


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str
    label: Words


class Jump(BaseModel):
    """When the answer is one of `when`, go to the question `to` (or END)."""

    model_config = ConfigDict(extra="forbid")
    when: list[str | int]
    to: str


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    kind: QuestionKind
    text: Words
    required: bool = True
    points: int | None = None  # rating and matrix: the scale's top (1..points)
    low: Words | None = None  # the labels of the scale's ends
    high: Words | None = None
    options: list[Option] = []  # single and multiple choice
    rows: list[Option] = []  # matrix: the statements rated on the scale
    jumps: list[Jump] = []

    @model_validator(mode="after")
    def _shape(self) -> "Question":
        if not KEY.fullmatch(self.key):
            raise ValueError(f"key {self.key!r}: lowercase letters, digits and _, starting with a letter")
        if self.kind in (QuestionKind.RATING, QuestionKind.MATRIX) and self.points not in SCALES:
            raise ValueError(f"{self.key}: a scale of {' / '.join(map(str, SCALES))} points")
        if self.kind in (QuestionKind.SINGLE, QuestionKind.MULTI) and len(self.options) < 2:
            raise ValueError(f"{self.key}: at least two options")
        if self.kind == QuestionKind.MATRIX and not self.rows:
            raise ValueError(f"{self.key}: at least one row")
        for group in (self.options, self.rows):
            values = [o.value for o in group]
            if len(set(values)) != len(values):
                raise ValueError(f"{self.key}: the same option twice")
        if self.jumps and self.kind not in (QuestionKind.RATING, QuestionKind.NPS, QuestionKind.SINGLE):
            raise ValueError(f"{self.key}: only a rating, NPS or single-choice question can jump")
        return self


class SurveyDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    questions: list[Question]

    @model_validator(mode="after")
    def _jumps_forward(self) -> "SurveyDefinition":
        if not self.questions:
            raise ValueError("a survey asks at least one question")
        position = {}
        for i, question in enumerate(self.questions):
            if question.key in position:
                raise ValueError(f"key {question.key!r} is used twice")
            position[question.key] = i
        for i, question in enumerate(self.questions):
            for jump in question.jumps:
                if jump.to != END and jump.to not in position:
                    raise ValueError(f"{question.key}: jumps to {jump.to!r}, which is no question")
                if jump.to != END and position[jump.to] <= i:
                    raise ValueError(f"{question.key}: jumps back to {jump.to!r}, which would loop")
                for value in jump.when:
                    try:
                        _answer_value(question, value)
                    except ValueError:
                        raise ValueError(f"{question.key}: jumps on {value!r}, which is no answer to it") from None
        return self

    def question(self, key: str) -> Question:
        return next(q for q in self.questions if q.key == key)


def definition_parse(data: Any) -> SurveyDefinition:
    """Return the survey definition of `data` (a dict as stored, or as a form or the API sends it); refuse what
    is not one with the reason, naming the question."""
    try:
        return SurveyDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = str(first.get("ctx", {}).get("error") or first["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in first["loc"])
        raise DomainError(_("The survey's questions are not valid: %(reason)s") % {"reason": reason},
                          code=FeedbackCode.INVALID_SURVEY, field=where or "questions") from None


def _on_scale(value: Any, low: int, high: int) -> int:
    """Return the value as a whole number from low to high, or raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValueError("not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise ValueError("outside the scale")
    return number


def _answer_value(question: Question, value: Any) -> Any:
    """Return the value as the question's kind stores it, or raise ValueError."""
    kind = question.kind
    if kind == QuestionKind.NPS:
        return _on_scale(value, 0, 10)
    if kind == QuestionKind.RATING:
        return _on_scale(value, 1, question.points or 0)
    if kind == QuestionKind.SINGLE:
        if str(value) not in {o.value for o in question.options}:
            raise ValueError("not an option")
        return str(value)
    if kind == QuestionKind.MULTI:
        chosen = [str(v) for v in value] if isinstance(value, list) else None
        if not chosen or not set(chosen) <= {o.value for o in question.options}:
            raise ValueError("not options")
        return list(dict.fromkeys(chosen))
    if kind == QuestionKind.TEXT:
        if not isinstance(value, str) or len(value) > TEXT_MAX:
            raise ValueError("not a text of the allowed length")
        return value.strip()
    # a matrix: every row answered on the scale
    if not isinstance(value, dict) or set(value) != {row.value for row in question.rows}:
        raise ValueError("not every row")
    return {row: _on_scale(v, 1, question.points or 0) for row, v in value.items()}


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _next(definition: SurveyDefinition, index: int, value: Any) -> int:
    """Return the index of the question after the one at `index`, given its answer (len(questions) to end)."""
    question = definition.questions[index]
    for jump in question.jumps:
        if value is not None and value in [_answer_value(question, w) for w in jump.when]:
            return len(definition.questions) if jump.to == END else \
                [q.key for q in definition.questions].index(jump.to)
    return index + 1


def answers_clean(definition: SurveyDefinition, answers: dict[str, Any]) -> dict[str, Any]:
    """Return the answers as stored: the questions on the path the answers take, each checked against its kind.

    Refuses (naming the question) an answer outside its scale or options, a required question left out, and an
    answer to a question the path skips or the survey does not have.
    """
    known = {q.key for q in definition.questions}
    for key in answers:
        if key not in known:
            raise DomainError(_("This survey has no question “%(key)s”.") % {"key": key},
                              code=FeedbackCode.UNKNOWN_QUESTION, field=str(key))
    cleaned: dict[str, Any] = {}
    index = 0
    while index < len(definition.questions):
        question = definition.questions[index]
        raw = answers.get(question.key)
        if _blank(raw):
            if question.required:
                raise DomainError(_("Please answer: %(question)s") % {"question": question.text.shown()},
                                  code=FeedbackCode.REQUIRED, field=question.key)
            value = None
        else:
            try:
                value = _answer_value(question, raw)
            except ValueError:
                raise DomainError(_("This answer does not fit the question: %(question)s")
                                  % {"question": question.text.shown()},
                                  code=FeedbackCode.INVALID_ANSWER, field=question.key) from None
            cleaned[question.key] = value
        index = _next(definition, index, value)
    skipped = [key for key, value in answers.items() if key not in cleaned and not _blank(value)]
    if skipped:
        raise DomainError(_("The answers skip the question “%(key)s”; leave it out.") % {"key": skipped[0]},
                          code=FeedbackCode.SKIPPED_QUESTION, field=skipped[0])
    return cleaned
