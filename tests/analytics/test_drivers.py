"""Driver analysis on synthetic answers whose true weights and paths the tests know."""

import numpy as np
import pytest

from fidelis.analytics.drivers import (
    DriverDataError,
    bootstrap_correlations,
    correlations,
    driver_analysis,
    path_model,
    relative_weights_from,
    shapley_r2,
)


def _population(cov_x: np.ndarray, beta: np.ndarray, noise: float) -> np.ndarray:
    """The correlation matrix of [X, y] for y = Xβ + ε, Var(ε) = noise."""
    cov_xy = cov_x @ beta
    var_y = beta @ cov_x @ beta + noise
    cov = np.block([[cov_x, cov_xy[:, None]], [cov_xy[None, :], np.array([[var_y]])]])
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


def _sample(rng, cov_x, beta, noise, n):
    x = rng.multivariate_normal(np.zeros(len(beta)), cov_x, size=n)
    return x, x @ beta + rng.normal(0, np.sqrt(noise), n)


COV = np.array([[1.0, 0.4, 0.3, 0.2], [0.4, 1.0, 0.5, 0.1], [0.3, 0.5, 1.0, 0.3], [0.2, 0.1, 0.3, 1.0]])
BETA = np.array([0.5, 0.3, 0.0, 0.2])


def test_relative_weights_sum_to_r2_and_agree_with_the_shapley_decomposition():
    # given correlated predictors (the population of COV, BETA)
    corr = _population(COV, BETA, noise=0.6)
    xs, y = [0, 1, 2, 3], 4
    # when both decompositions of R² are computed
    weights, r2 = relative_weights_from(corr, xs, y)
    shapley = shapley_r2(corr, xs, y)
    beta = np.linalg.solve(corr[:4, :4], corr[:4, 4])
    # then each sums to the model's R², and they agree driver by driver
    assert r2 == pytest.approx(beta @ corr[:4, 4])
    assert weights.sum() == pytest.approx(r2) and shapley.sum() == pytest.approx(r2)
    assert np.abs(weights - shapley).max() < 0.01
    assert (weights >= 0).all()


def test_with_uncorrelated_predictors_each_weight_is_its_squared_correlation():
    corr = _population(np.eye(3), np.array([0.6, 0.3, 0.1]), noise=0.5)
    weights, r2 = relative_weights_from(corr, [0, 1, 2], 3)
    assert weights == pytest.approx(corr[:3, 3] ** 2)
    assert shapley_r2(corr, [0, 1, 2], 3) == pytest.approx(weights)


def test_the_intervals_cover_the_true_weights_at_about_their_level():
    # given the true weights of the population and 30 samples drawn from it
    truth, _ = relative_weights_from(_population(COV, BETA, noise=0.6), [0, 1, 2, 3], 4)
    rng = np.random.default_rng(7)
    covered = []
    for seed in range(30):
        x, y = _sample(rng, COV, BETA, 0.6, 600)
        result = driver_analysis({f"x{j}": x[:, j] for j in range(4)}, y, resamples=200, seed=seed)
        covered += [d.weight.low <= truth[j] <= d.weight.high for j, d in enumerate(result.drivers)]
    # then the 95 % intervals hold the truth about 95 % of the time
    assert 0.85 <= np.mean(covered) <= 1.0


def test_a_driver_without_effect_is_not_significant_and_strong_ones_are():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 3))
    y = 0.6 * x[:, 0] + 0.3 * x[:, 1] + rng.standard_normal(3000)
    result = driver_analysis({"price": x[:, 0], "staff": x[:, 1], "parking": x[:, 2]}, y, resamples=500)
    significant = {d.name: d.significant for d in result.drivers}
    assert significant == {"price": True, "staff": True, "parking": False}
    assert sum(d.share for d in result.drivers) == pytest.approx(1.0)
    assert result.r2.low < result.r2.estimate < result.r2.high


@pytest.mark.parametrize(("emotional_factor", "expected_ratio"), [(np.sqrt(2), 2.0), (1.0, 1.0)])
def test_emotional_drivers_weigh_twice_the_rational_ones_only_where_they_do(emotional_factor, expected_ratio):
    # given three rational and three emotional drivers, the emotional ones with √2 times the effect (twice the
    # explained variance) in one data set and the same effect in the other
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8000, 6))
    beta = np.array([0.25, 0.25, 0.25, *(3 * [0.25 * emotional_factor])])
    y = x @ beta + rng.standard_normal(8000) * 0.7
    names = ["价格", "质量", "便利", "信任", "被重视", "愉悦"]
    result = driver_analysis(dict(zip(names, x.T, strict=True)), y, resamples=200)
    rational = sum(d.weight.estimate for d in result.drivers[:3])
    emotional = sum(d.weight.estimate for d in result.drivers[3:])
    # then the analysis shows the emotional drivers' share as twice the rational ones' — or equal
    assert emotional / rational == pytest.approx(expected_ratio, rel=0.2)


def test_bootstrap_by_groups_gives_the_sampling_spread_of_a_correlation():
    # given two variables correlated 0.5, many rows (dealt into groups) and few rows (one per group)
    rng = np.random.default_rng(5)
    for n in (200_000, 1500):
        x = rng.standard_normal(n)
        data = np.column_stack([x, 0.5 * x + np.sqrt(0.75) * rng.standard_normal(n)])
        boot = bootstrap_correlations(data - data.mean(axis=0), 400, rng)
        # then the spread of the resampled correlations is the known standard error (1 - ρ²) / √n
        assert boot[:, 0, 1].std() == pytest.approx(0.75 / np.sqrt(n), rel=0.15)
        assert boot[:, 0, 1].mean() == pytest.approx(correlations(data)[0, 1], abs=3 * 0.75 / np.sqrt(n))


def test_the_path_model_recovers_known_paths():
    # given an ACSI-style chain: expectations and quality → value; quality and value → satisfaction;
    # satisfaction → loyalty (standardised paths known)
    rng = np.random.default_rng(2)
    n = 4000
    expectation = rng.standard_normal(n)
    quality = 0.4 * expectation + np.sqrt(1 - 0.16) * rng.standard_normal(n)
    value = 0.2 * expectation + 0.5 * quality + rng.standard_normal(n) * 0.8
    value /= value.std()
    satisfaction = 0.5 * quality + 0.3 * value + rng.standard_normal(n) * 0.7
    satisfaction /= satisfaction.std()
    loyalty = 0.6 * satisfaction + rng.standard_normal(n) * 0.8
    data = {"expectation": expectation, "quality": quality, "value": value, "satisfaction": satisfaction,
            "loyalty": loyalty}
    equations = path_model(data, {"satisfaction": ["quality", "value"], "loyalty": ["satisfaction"]},
                           resamples=400)
    by_outcome = {e.outcome: e for e in equations}
    loyalty_path = by_outcome["loyalty"].paths["satisfaction"]
    truth = 0.6 / np.sqrt(0.36 + 0.64)
    # then each estimated path's interval holds the true standardised path, and R² is between 0 and 1
    assert loyalty_path.low <= truth <= loyalty_path.high
    assert by_outcome["satisfaction"].paths["quality"].estimate > by_outcome["satisfaction"].paths["value"].estimate
    assert 0 < by_outcome["loyalty"].r2.low < by_outcome["loyalty"].r2.high < 1


def test_data_that_cannot_carry_the_analysis_is_refused_by_name():
    rng = np.random.default_rng(1)
    with pytest.raises(DriverDataError) as flat:
        driver_analysis({"a": rng.standard_normal(50), "b": np.full(50, 3.0)}, rng.standard_normal(50))
    assert flat.value.code == "no_variance" and flat.value.column == "b"
    with pytest.raises(DriverDataError) as few:
        driver_analysis({"a": [1.0, 2.0], "b": [2.0, 1.0]}, [1.0, 3.0])
    assert few.value.code == "too_few_rows"
    with pytest.raises(DriverDataError) as unknown:
        path_model({"a": rng.standard_normal(50), "b": rng.standard_normal(50)}, {"b": ["c"]})
    assert unknown.value.code == "unknown_construct"


def test_rows_with_a_missing_answer_are_left_out():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((500, 2))
    y = x[:, 0] + rng.standard_normal(500)
    x_gaps = x.copy()
    x_gaps[:50, 1] = np.nan
    full = driver_analysis({"a": x[50:, 0], "b": x[50:, 1]}, y[50:], resamples=50)
    gaps = driver_analysis({"a": x_gaps[:, 0], "b": x_gaps[:, 1]}, y, resamples=50)
    assert gaps.n == 450 and gaps.r2.estimate == pytest.approx(full.r2.estimate)
