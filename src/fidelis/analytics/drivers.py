"""Driver analysis: which drivers explain an outcome (overall satisfaction, loyalty intention), and by how much.

Everything here works from correlation matrices, so the same few functions serve the full sample and every bootstrap
resample:

- `relative_weights`: Johnson's relative weights (Johnson 2000). The predictors are replaced by their closest
  orthogonal counterparts; the outcome's R² splits into one non-negative share per predictor, and the shares sum
  to R². They approximate the Shapley decomposition of R² (`shapley_r2`, exact but exponential in the number of
  predictors, for checking) at the cost of one eigen-decomposition.
- `path_model`: a recursive path model on construct scores (an ACSI-style chain: expectations, perceived quality
  and value → satisfaction → complaints, loyalty): one standardised regression per endogenous construct.
- `bootstrap_correlations`: the correlation matrices of B bootstrap resamples, from per-group sums so that a
  million answers are read once (see docs/decisions/driver-bootstrap-by-groups.md).

Significance of a driver follows Tonidandel & LeBreton (2009): a random variable joins the predictors in every
resample, and a driver counts when the interval of (its weight - the random variable's weight) lies above zero.
Rows with a missing value are left out (listwise).
"""

from dataclasses import dataclass
from itertools import combinations
from math import factorial

import numpy as np

GROUPS = 2000  # bootstrap groups: below this many rows every row is its own group (the plain bootstrap)
LEVEL = 0.95


class DriverDataError(ValueError):
    """The data cannot carry the analysis (too few rows, a column without variance)."""

    def __init__(self, message: str, *, code: str, column: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.column = column


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Driver:
    name: str
    weight: Interval  # raw relative weight: its share of R²
    share: float  # weight / R²: the rescaled relative weight, summing to 1
    significant: bool


@dataclass(frozen=True)
class DriverResult:
    n: int
    r2: Interval
    drivers: list[Driver]  # in the order given


@dataclass(frozen=True)
class Equation:
    outcome: str
    r2: Interval
    paths: dict[str, Interval]  # predictor -> standardised path coefficient


def _clean(names: list[str], columns: list) -> np.ndarray:
    """Return the complete rows of the columns, centred (correlations do not move; sums of squares stay small)."""
    data = np.column_stack([np.asarray(column, dtype=float) for column in columns])
    data = data[~np.isnan(data).any(axis=1)]
    if len(data) < len(names) + 2:
        raise DriverDataError(f"{len(data)} complete rows are too few for {len(names)} columns",
                              code="too_few_rows")
    spread = data.std(axis=0)
    for name, sd in zip(names, spread, strict=True):
        if not sd > 0:
            raise DriverDataError(f"column {name!r} has the same value in every row", code="no_variance",
                                  column=name)
    return data - data.mean(axis=0)


def correlations(data: np.ndarray) -> np.ndarray:
    """Return the correlation matrix of the columns of `data` (rows are observations)."""
    return _corr_from_sums(np.array(float(len(data))), data.sum(axis=0), data.T @ data)


def _corr_from_sums(n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Correlation matrices from counts, column sums and cross-product sums (stacked on leading axes)."""
    mean = s1 / n[..., None]
    cov = s2 / n[..., None, None] - mean[..., :, None] * mean[..., None, :]
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 1e-300, None))
    return cov / (sd[..., :, None] * sd[..., None, :])


def relative_weights_from(corr: np.ndarray, predictors: list[int], outcome: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the raw relative weights of `predictors` for `outcome` and R², from correlation matrices (..., q, q).

    With R_xx = V diag(λ) V' the predictors' correlations, Λ = V diag(√λ) V' relates them to their orthogonal
    counterparts Z; β = Λ⁻¹ r_xy regresses the outcome on Z, and predictor j's weight is Σ_k Λ_jk² β_k².
    """
    rxx = corr[..., predictors, :][..., :, predictors]
    rxy = corr[..., predictors, outcome]
    values, vectors = np.linalg.eigh(rxx)
    root = np.einsum("...ik,...k,...jk->...ij", vectors, np.sqrt(np.clip(values, 0, None)), vectors)
    beta = np.linalg.solve(root, rxy[..., None])[..., 0]
    weights = np.einsum("...jk,...k->...j", root**2, beta**2)
    return weights, weights.sum(axis=-1)


def standardised_regression_from(corr: np.ndarray, predictors: list[int], outcome: int
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """Return the standardised coefficients β = R_xx⁻¹ r_xy and R² = r_xy'β, from correlation matrices."""
    rxx = corr[..., predictors, :][..., :, predictors]
    rxy = corr[..., predictors, outcome]
    beta = np.linalg.solve(rxx, rxy[..., None])[..., 0]
    return beta, (beta * rxy).sum(axis=-1)


def r2_of(corr: np.ndarray, predictors: list[int], outcome: int) -> float:
    """Return the R² of regressing `outcome` on `predictors` (0 for no predictor)."""
    if not predictors:
        return 0.0
    return float(standardised_regression_from(corr, predictors, outcome)[1])


def shapley_r2(corr: np.ndarray, predictors: list[int], outcome: int) -> np.ndarray:
    """Return the Shapley decomposition of R² over `predictors`, by brute force over every subset (2^p fits)."""
    p = len(predictors)
    r2: dict[frozenset, float] = {}
    for size in range(p + 1):
        for subset in combinations(range(p), size):
            r2[frozenset(subset)] = r2_of(corr, [predictors[i] for i in subset], outcome)
    values = np.zeros(p)
    for j in range(p):
        others = [i for i in range(p) if i != j]
        for size in range(p):
            weight = factorial(size) * factorial(p - size - 1) / factorial(p)
            for subset in combinations(others, size):
                values[j] += weight * (r2[frozenset(subset) | {j}] - r2[frozenset(subset)])
    return values


def bootstrap_correlations(data: np.ndarray, resamples: int, rng: np.random.Generator,
                           groups: int = GROUPS) -> np.ndarray:
    """Return the correlation matrices of `resamples` bootstrap resamples of the rows of `data`, (B, q, q).

    The rows are dealt at random into `groups` groups (each row its own group when there are fewer rows); a
    resample draws groups with replacement and adds up their sums. With a row per group this is the ordinary
    bootstrap; with more, the groups' sums are independent and identically distributed, so resampling them gives
    the sampling spread of the correlations all the same, and costs one matrix product instead of a pass over the
    rows per resample.
    """
    n, q = data.shape
    g = min(groups, n)
    shuffled = data[rng.permutation(n)]
    bounds = np.linspace(0, n, g + 1).astype(int)
    counts = np.diff(bounds).astype(float)
    s1 = np.empty((g, q))
    s2 = np.empty((g, q * q))
    for i in range(g):
        block = shuffled[bounds[i]:bounds[i + 1]]
        s1[i] = block.sum(axis=0)
        s2[i] = (block.T @ block).ravel()
    draws = rng.multinomial(g, np.full(g, 1.0 / g), size=resamples).astype(float)  # (B, g)
    return _corr_from_sums(draws @ counts, draws @ s1, (draws @ s2).reshape(resamples, q, q))


def _interval(estimate: float, samples: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def driver_analysis(predictors: dict[str, np.ndarray], outcome: np.ndarray, *, resamples: int = 1000,
                    seed: int | None = 0, level: float = LEVEL) -> DriverResult:
    """Return each predictor's relative weight for `outcome` with bootstrap intervals, R², and which drivers are
    significant (their weight's lead over a random variable's has an interval above zero)."""
    rng = np.random.default_rng(seed)
    names = list(predictors)
    data = _clean([*names, "outcome"], [*predictors.values(), outcome])
    data = np.column_stack([data, rng.standard_normal(len(data))])  # the random variable, last
    p = len(names)
    xs, y, noise = list(range(p)), p, p + 1
    weights, r2 = relative_weights_from(correlations(data), xs, y)
    boot = bootstrap_correlations(data, resamples, rng)
    boot_weights, boot_r2 = relative_weights_from(boot, xs, y)
    with_noise, _ = relative_weights_from(boot, [*xs, noise], y)
    lead = with_noise[:, :p] - with_noise[:, p:]
    tail = (1 - level) / 2 * 100
    drivers = [Driver(name=names[j], weight=_interval(weights[j], boot_weights[:, j], level),
                      share=float(weights[j] / r2) if r2 > 0 else 0.0,
                      significant=bool(np.percentile(lead[:, j], tail) > 0))
               for j in xs]
    return DriverResult(n=len(data), r2=_interval(float(r2), boot_r2, level), drivers=drivers)


def path_model(constructs: dict[str, np.ndarray], paths: dict[str, list[str]], *, resamples: int = 1000,
               seed: int | None = 0, level: float = LEVEL) -> list[Equation]:
    """Estimate a recursive path model on construct scores: for each outcome in `paths`, the standardised
    coefficients of the constructs pointing at it and its R², with bootstrap intervals."""
    rng = np.random.default_rng(seed)
    names = list(constructs)
    data = _clean(names, list(constructs.values()))
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({n for outcome, preds in paths.items() for n in (outcome, *preds)} - set(index))
    if unknown:
        raise DriverDataError(f"unknown constructs: {', '.join(unknown)}", code="unknown_construct",
                              column=unknown[0])
    corr = correlations(data)
    boot = bootstrap_correlations(data, resamples, rng)
    equations = []
    for outcome, preds in paths.items():
        cols = [index[p] for p in preds]
        beta, r2 = standardised_regression_from(corr, cols, index[outcome])
        boot_beta, boot_r2 = standardised_regression_from(boot, cols, index[outcome])
        equations.append(Equation(outcome=outcome, r2=_interval(float(r2), boot_r2, level),
                                  paths={p: _interval(float(beta[k]), boot_beta[:, k], level)
                                         for k, p in enumerate(preds)}))
    return equations
