"""The HT terms as an Ibis aggregate give the hand-checked sums of `test_sampling.py` on PySpark too."""

from __future__ import annotations

import pytest

from engmetrics.telemetry.sampling_estimate import ht_terms_expr, ratio_estimate, terms_from_row, total_estimate

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark_sampled(spark_session):
    import ibis

    # weights 1, 2, 4, 4 (w^2 - w: 0, 2, 12, 12), y 3, 1, 0, 2, error T, F, F, T
    spark_session.createDataFrame([(1.0, 3, True), (2.0, 1, False), (4.0, 0, False), (4.0, 2, True)],
                                  "weight double, y bigint, error boolean").createOrReplaceTempView("sampled")
    return ibis.pyspark.connect(spark_session).table("sampled")


def test_ht_terms_on_pyspark(spark_sampled):
    terms = terms_from_row(ht_terms_expr(spark_sampled, "y").to_pyarrow().to_pylist()[0])
    # T_y = 3 + 2 + 0 + 8 = 13, Var = 2 + 48 = 50; T_x = 11, Var = 26; cross = sum (w^2 - w) y = 2 + 24 = 26
    assert (terms.total_y, terms.var_yy, terms.total_x, terms.var_xx, terms.var_xy) == (13, 50, 11, 26, 26)
    assert (terms.n_sampled, terms.n_random, terms.y_random, terms.y_certain) == (4, 3, 2, 1)
    assert total_estimate(terms).std_error == pytest.approx(50**0.5)


def test_grouped_error_ratio_terms_on_pyspark(spark_sampled):
    rows = ht_terms_expr(spark_sampled, "error", by=["y"]).to_pyarrow().to_pylist()
    by_y = {r["y"]: terms_from_row(r) for r in rows}
    # y = 2: one row, w 4, error: R = 4 / 4 = 1, z = 0 -> variance 0
    assert ratio_estimate(by_y[2]).value == 1.0
    assert ratio_estimate(by_y[2]).std_error == 0.0
    # y = 1: w 2, no error: T_y = 0, Var = 0; T_x = 2, Var_xx = 2
    assert (by_y[1].total_y, by_y[1].total_x, by_y[1].var_xx) == (0.0, 2.0, 2.0)
