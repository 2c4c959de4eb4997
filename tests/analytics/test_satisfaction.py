"""NPS, CSAT and effort scores against hand-computed cases."""

import math

import pytest

from fidelis.analytics.satisfaction import mean_score, nps, top_box_share


def test_nps_counts_promoters_passives_and_detractors():
    # given 40 answers: 20 promoters (9–10), 8 passives (7–8), 12 detractors (0–6)
    answers = [10] * 12 + [9] * 8 + [8] * 5 + [7] * 3 + [6] * 6 + [0] * 6
    result = nps(answers)
    # then NPS = 50 % − 30 % = 20, with the interval of a difference of two shares of one sample
    assert (result.promoters, result.passives, result.detractors, result.n) == (20, 8, 12, 40)
    assert result.value == pytest.approx(20.0)
    half = 1.959964 * math.sqrt((0.5 + 0.3 - 0.2**2) / 40) * 100
    assert result.low == pytest.approx(20 - half, abs=1e-3) and result.high == pytest.approx(20 + half, abs=1e-3)


def test_a_score_below_the_minimum_number_of_answers_has_no_value():
    result = nps([10, 10, 3], min_answers=30)
    assert not result.enough and result.value is None and result.low is None and result.n == 3
    assert result.promoters == 2 and result.detractors == 1
    assert not top_box_share([5] * 29, points=5).enough
    assert not mean_score([], low=1, high=7).enough


def test_csat_is_the_top_two_box_share_with_a_wilson_interval():
    # given 100 answers on a 1–5 scale, 70 of them 4 or 5
    answers = [5] * 40 + [4] * 30 + [3] * 20 + [2] * 6 + [1] * 4
    result = top_box_share(answers, points=5)
    assert result.value == pytest.approx(70.0)
    # the Wilson interval for 70 of 100 at 95 %: 60.4 % – 78.1 %
    assert result.low == pytest.approx(60.42, abs=0.05) and result.high == pytest.approx(78.06, abs=0.05)


def test_the_effort_score_is_a_mean_with_a_t_interval_inside_the_scale():
    answers = [1, 2, 2, 3, 3, 3, 4, 4, 5, 7] * 4
    result = mean_score(answers, low=1, high=7)
    assert result.value == pytest.approx(3.4)
    sd = math.sqrt(sum((a - 3.4) ** 2 for a in answers) / 39)
    assert result.high - result.value == pytest.approx(2.0227 * sd / math.sqrt(40), abs=1e-3)
    assert 1 <= result.low < result.value < result.high <= 7


@pytest.mark.parametrize(("score", "values"), [
    (lambda v: nps(v), [11]), (lambda v: nps(v), [-1]), (lambda v: nps(v), [7.5]),
    (lambda v: top_box_share(v, points=5), [6]), (lambda v: mean_score(v, low=1, high=7), [0]),
])
def test_answers_outside_the_scale_are_refused(score, values):
    with pytest.raises(ValueError):
        score(values * 40)


def test_missing_answers_are_not_counted():
    assert nps([10.0, float("nan")] * 20).n == 20
