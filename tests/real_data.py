"""Real data sets in their raw units, bundled with scikit-learn and statsmodels (no network),
and the exact least-squares reference each iterative fit is judged against.

The reference is numpy.linalg.lstsq on the centred, standardised data (SVD: accurate to about
eps times the condition number of the standardised problem), cross-checked against
statsmodels' OLS on the raw data."""
from __future__ import annotations

import numpy as np

# name: (statsmodels data set, target column); every other numeric column is a feature
STATSMODELS = {
    "longley": ("longley", "TOTEMP"),
    "macrodata": ("macrodata", "realgdp"),
    "star98": ("star98", "NABOVE"),
    "stackloss": ("stackloss", "STACKLOSS"),
    "grunfeld": ("grunfeld", "invest"),
    "cpunish": ("cpunish", "EXECUTIONS"),
    "copper": ("copper", "WORLDCONSUMPTION"),
    "statecrime": ("statecrime", "murder"),
    "fair": ("fair", "affairs"),
    "scotland": ("scotland", "YES"),
}
NAMES = ["diabetes", "linnerud", *STATSMODELS]


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "diabetes":
        from sklearn.datasets import load_diabetes
        d = load_diabetes(scaled=False)
        return d.data.astype(float), d.target.astype(float)
    if name == "linnerud":
        from sklearn.datasets import load_linnerud
        d = load_linnerud()
        return d.data.astype(float), d.target[:, 0].astype(float)
    import statsmodels.api as sm
    dataset, target = STATSMODELS[name]
    df = getattr(sm.datasets, dataset).load_pandas().data.select_dtypes("number").dropna()
    return df.drop(columns=[target]).to_numpy(float), df[target].to_numpy(float)


class Exact:
    """The exact fit of f(w, b) = 1/(2m)||y - Xw - b||^2 and the distances the trust
    thresholds are stated in."""

    def __init__(self, X, y, check_statsmodels=True):
        self.X, self.y = np.asarray(X, float), np.asarray(y, float)
        mu = self.X.mean(0)
        sd = self.X.std(0)
        self.sd = np.where(sd > 0, sd, 1.0)
        v, *_ = np.linalg.lstsq((self.X - mu) / self.sd, self.y - self.y.mean(), rcond=None)
        self.coef = v / self.sd
        self.intercept = self.y.mean() - mu @ self.coef
        self.f = self.objective(self.coef, self.intercept)
        if check_statsmodels:
            import statsmodels.api as sm
            params = sm.OLS(self.y, sm.add_constant(self.X, has_constant="add")).fit().params
            assert self.coef_error(params[1:]) < 1e-7

    def objective(self, coef, intercept):
        r = self.y - self.X @ np.asarray(coef, float) - intercept
        return 0.5 * float(r @ r) / len(self.y)

    def coef_error(self, coef):
        """||sd (w - w*)|| / ||sd w*||: relative error of the standardised coefficients."""
        d = self.sd * (np.asarray(coef, float) - self.coef)
        return float(np.linalg.norm(d) / np.linalg.norm(self.sd * self.coef))

    def gap(self, coef, intercept):
        """(f - f*) / f*."""
        return (self.objective(coef, intercept) - self.f) / self.f

    def exact(self, coef, intercept, mini=False):
        """The trust thresholds: coefficients within 1e-4 and gap within 1e-8 (SGD: gap
        within 1e-3)."""
        coef = np.asarray(coef, float)
        if not (np.isfinite(coef).all() and np.isfinite(intercept)):
            return False
        if mini:
            return self.gap(coef, intercept) <= 1e-3
        return self.coef_error(coef) <= 1e-4 and self.gap(coef, intercept) <= 1e-8
