"""The regression kernel against pyfixest (R fixest's conventions) and statsmodels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from evaluation.regression import Nuisance, codes, fit_linear
from tests.golden.fixest_reference import CASES, twfe_data

REFERENCE = json.loads((Path(__file__).parent / "golden" / "fixest_reference.json").read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_coefficients_and_errors_match_fixest(case: str) -> None:
    """Numbers from pyfixest 0.60 feols, produced by tests/golden/fixest_reference.py."""
    data = twfe_data()
    spec = CASES[case]
    weights = data[spec["weights"]].to_numpy() if "weights" in spec else np.ones(data.height)
    unit, time = codes(data["unit"].to_numpy()), codes(data["time"].to_numpy())
    if "|" in spec["fml"]:
        nuisance = Nuisance((unit, time), None, np.sqrt(weights))
    else:
        nuisance = Nuisance((), np.ones((data.height, 1)), np.sqrt(weights))
    vcov = spec["vcov"]
    clusters = None if vcov == "hetero" else codes(data[vcov["CRV1"]].to_numpy())
    fit = fit_linear(
        data["y"].to_numpy(),
        data.select("D", "x1").to_numpy().astype(float),
        nuisance,
        se="hetero" if clusters is None else "cluster",
        clusters=clusters,
    )
    expected = REFERENCE[case]
    slopes = slice(-2, None)  # pyfixest lists the intercept first in the pooled model
    np.testing.assert_allclose(fit.coef, expected["coef"][slopes], rtol=1e-9)
    np.testing.assert_allclose(fit.se, expected["se"][slopes], rtol=1e-8)


def test_within_transform_equals_the_dummy_variable_regression() -> None:
    """Unit and time dummies in statsmodels give the same slopes and HC1 errors up to K."""
    data = twfe_data(seed=3, units=15, periods=6)
    unit, time = codes(data["unit"].to_numpy()), codes(data["time"].to_numpy())
    x = data.select("D", "x1").to_numpy().astype(float)
    dummies = np.column_stack([np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]])
    reference = sm.OLS(data["y"].to_numpy(), np.column_stack([x, dummies])).fit(cov_type="HC1")
    fit = fit_linear(
        data["y"].to_numpy(), x, Nuisance((unit, time), None, np.ones(data.height)), se="hetero"
    )
    np.testing.assert_allclose(fit.coef, reference.params[:2], rtol=1e-9)
    np.testing.assert_allclose(fit.se, reference.bse[:2], rtol=1e-9)
    assert fit.n_params == reference.df_model + 1


def test_cluster_errors_match_statsmodels_on_the_dummy_regression() -> None:
    """With no fixed effects nested in the clusters, K is the full parameter count."""
    data = twfe_data(seed=4, units=20, periods=5)
    unit, time = codes(data["unit"].to_numpy()), codes(data["time"].to_numpy())
    clusters = codes((data["unit"].to_numpy() + data["time"].to_numpy()) % 7)  # cut across units
    x = data.select("D", "x1").to_numpy().astype(float)
    dummies = np.column_stack([np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]])
    reference = sm.OLS(data["y"].to_numpy(), np.column_stack([x, dummies])).fit(
        cov_type="cluster", cov_kwds={"groups": clusters, "use_correction": True}
    )
    fit = fit_linear(
        data["y"].to_numpy(),
        x,
        Nuisance((unit, time), None, np.ones(data.height)),
        se="cluster",
        clusters=clusters,
    )
    np.testing.assert_allclose(fit.se, reference.bse[:2], rtol=1e-9)
    assert fit.df == 6
