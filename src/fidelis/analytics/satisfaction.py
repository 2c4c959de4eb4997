"""Survey scores with their uncertainty: NPS, CSAT (top-two-box), customer effort and mean ratings.

Every score comes with a 95 % interval and the number of answers behind it. Below `MIN_ANSWERS` a score has no
value, only the count: a dashboard says "not enough data" rather than show a bare number.
"""

from dataclasses import dataclass
from math import sqrt

import numpy as np
from scipy import stats

MIN_ANSWERS = 30
LEVEL = 0.95


@dataclass(frozen=True)
class Score:
    n: int
    value: float | None  # None: fewer answers than the minimum
    low: float | None
    high: float | None

    @property
    def enough(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Nps(Score):
    promoters: int
    passives: int
    detractors: int


def _answers(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[~np.isnan(array)]


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def nps(values, *, min_answers: int = MIN_ANSWERS, level: float = LEVEL) -> Nps:
    """Return the Net Promoter Score of 0–10 answers: % promoters (9–10) − % detractors (0–6), from −100 to 100,
    with a normal interval (the variance of a difference of two shares of one multinomial sample)."""
    answers = _answers(values)
    if ((answers < 0) | (answers > 10) | (answers != np.round(answers))).any():
        raise ValueError("NPS answers are whole numbers from 0 to 10")
    n = len(answers)
    promoters, detractors = int((answers >= 9).sum()), int((answers <= 6).sum())
    counts = {"promoters": promoters, "passives": n - promoters - detractors, "detractors": detractors}
    if n < max(min_answers, 1):
        return Nps(n=n, value=None, low=None, high=None, **counts)
    p, d = promoters / n, detractors / n
    score = p - d
    half = _z(level) * sqrt(max(p + d - score**2, 0.0) / n)
    return Nps(n=n, value=100 * score, low=100 * max(score - half, -1.0), high=100 * min(score + half, 1.0),
               **counts)


def top_box_share(values, *, points: int, top: int = 2, min_answers: int = MIN_ANSWERS,
                  level: float = LEVEL) -> Score:
    """Return the share (0–100 %) of answers in the top `top` points of a 1..`points` scale — CSAT is the top-two
    box of the satisfaction question — with a Wilson interval."""
    answers = _answers(values)
    if ((answers < 1) | (answers > points)).any():
        raise ValueError(f"answers are on a scale from 1 to {points}")
    n = len(answers)
    if n < max(min_answers, 1):
        return Score(n=n, value=None, low=None, high=None)
    share = float((answers > points - top).sum()) / n
    z = _z(level)
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Score(n=n, value=100 * share, low=100 * max(centre - half, 0.0), high=100 * min(centre + half, 1.0))


def mean_score(values, *, low: float, high: float, min_answers: int = MIN_ANSWERS, level: float = LEVEL) -> Score:
    """Return the mean of answers on a scale from `low` to `high` (a rating, the customer effort score) with a
    Student t interval, kept within the scale."""
    answers = _answers(values)
    if ((answers < low) | (answers > high)).any():
        raise ValueError(f"answers are on a scale from {low:g} to {high:g}")
    n = len(answers)
    if n < max(min_answers, 2):
        return Score(n=n, value=None, low=None, high=None)
    mean = float(answers.mean())
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(answers.std(ddof=1)) / sqrt(n)
    return Score(n=n, value=mean, low=max(mean - half, low), high=min(mean + half, high))
