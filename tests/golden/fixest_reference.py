"""Recipe for ``fixest_reference.json``: TWFE estimates and errors from pyfixest (R fixest's port).

The data are generated here, deterministically, so the tests regenerate them without pyfixest.
To refresh the numbers, in an environment with pyfixest 0.60 (and pyarrow) installed:

    python -m tests.golden.fixest_reference > tests/golden/fixest_reference.json
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

CASES = {
    "unit_clusters": {"fml": "y ~ D + x1 | unit + time", "vcov": {"CRV1": "unit"}},
    "group_clusters": {"fml": "y ~ D + x1 | unit + time", "vcov": {"CRV1": "grp"}},
    "time_clusters": {"fml": "y ~ D + x1 | unit + time", "vcov": {"CRV1": "time"}},
    "hetero": {"fml": "y ~ D + x1 | unit + time", "vcov": "hetero"},
    "pooled_group_clusters": {"fml": "y ~ D + x1", "vcov": {"CRV1": "grp"}},
    "weighted_unit_clusters": {
        "fml": "y ~ D + x1 | unit + time",
        "vcov": {"CRV1": "unit"},
        "weights": "w",
    },
}


def twfe_data(seed: int = 1, units: int = 40, periods: int = 8) -> pl.DataFrame:
    """An unbalanced panel: 10% of unit-periods missing, half the units treated from period 4."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(units):
        level = rng.normal()
        cohort = 4 if unit % 2 == 0 else None
        for time in range(periods):
            if rng.random() < 0.1:
                continue
            treated_now = int(cohort is not None and time >= cohort)
            rows.append(
                {
                    "unit": unit,
                    "time": time,
                    "grp": unit // 4,
                    "D": treated_now,
                    "x1": rng.normal(),
                    "w": rng.uniform(0.5, 2),
                    "y": level + 0.3 * time + 1.5 * treated_now + rng.normal(),
                }
            )
    return pl.DataFrame(rows)


def main() -> None:
    import pyfixest as pf

    data = twfe_data().to_pandas()
    out = {}
    for name, case in CASES.items():
        fit = pf.feols(case["fml"], data, vcov=case["vcov"], weights=case.get("weights"))
        out[name] = {"coef": fit.coef().tolist(), "se": fit.se().tolist()}
    out["versions"] = {"pyfixest": pf.__version__}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
