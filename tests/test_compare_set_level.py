"""Paired comparison of set-level metrics (IS, mask-IS, FID, KID): one joint resample of the
pairs for both models and the real set, the refusals and the unavailable reasons of
``bench compare``."""

from __future__ import annotations

import numpy as np
import pytest

from bench.api import run
from bench.cli import main
from bench.compare import format_set_level, prepare_set_level
from bench.config import RunConfig
from bench.errors import BenchError
from bench.metrics.fidelity import FID, KID
from bench.metrics.settings import MetricSettings, with_settings
from bench.records import read_records
from bench.stats import (
    bootstrap_p_value,
    paired_set_comparison,
    percentile_interval,
    resample_positions,
)

# -- the statistics (no network) -------------------------------------------------------------


def _spread(values):
    """A set-level statistic (not a mean of per-pair values): the std of the set."""
    return lambda positions: {"s": float(values[positions].std())}


def test_identical_models_differ_by_zero_and_not_significantly():
    x = np.random.default_rng(0).normal(size=40)
    c = paired_set_comparison(_spread(x), _spread(x.copy()), 40, {"s": x.std()},
                              {"s": x.std()}, resamples=200)["s"]
    assert c.difference == 0 and c.interval == (0, 0)
    assert c.p_value == 1 and not c.significant and c.resamples == 200


def test_the_difference_is_the_full_set_values_and_a_clear_one_is_significant():
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    y = 1.5 * x + rng.normal(0, 0.05, 60)  # same pairs, a larger spread
    c = paired_set_comparison(_spread(y), _spread(x), 60, {"s": y.std()}, {"s": x.std()},
                              resamples=200, seed=4)["s"]
    assert c.difference == pytest.approx(y.std() - x.std())
    assert c.interval[0] > 0 and c.p_value == pytest.approx(2 / 201) and c.significant


def test_both_models_get_the_same_positions_in_every_resample():
    seen = {"a": [], "b": []}

    def spy(name):
        def statistic(positions):
            seen[name].append(positions.copy())
            return {"m": 0.0}
        return statistic

    paired_set_comparison(spy("a"), spy("b"), 7, {"m": 0.0}, {"m": 0.0}, resamples=30, seed=5)
    assert len(seen["a"]) == 30
    assert all(np.array_equal(a, b) for a, b in zip(seen["a"], seen["b"], strict=True))
    expected = np.concatenate(list(resample_positions(7, 30, 5)))
    assert np.array_equal(np.stack(seen["a"]), expected)


def test_paired_interval_is_narrower_than_unpaired_for_correlated_models():
    """Between-pair spread cancels in the paired difference; resampling each model on its own
    keeps it, and misses a consistent improvement."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, 50)
    y = x + 0.1 + rng.normal(0, 0.01, 50)
    mean = lambda v: lambda p: {"m": float(v[p].mean())}  # noqa: E731
    paired = paired_set_comparison(mean(y), mean(x), 50, {"m": y.mean()}, {"m": x.mean()},
                                   resamples=500, seed=0)["m"]
    ya = np.concatenate([y[p].mean(axis=1) for p in resample_positions(50, 500, 0)])
    xb = np.concatenate([x[p].mean(axis=1) for p in resample_positions(50, 500, 1)])
    unpaired = percentile_interval(ya - xb, 0.95)
    assert paired.significant and paired.interval[0] > 0
    assert unpaired[0] < 0 < unpaired[1]
    width = paired.interval[1] - paired.interval[0]
    assert width < (unpaired[1] - unpaired[0]) / 20
    assert bootstrap_p_value(ya - xb) > 0.05


def test_bootstrap_p_value():
    assert bootstrap_p_value(np.ones(99)) == pytest.approx(2 / 100)
    assert bootstrap_p_value(np.r_[-np.ones(50), np.ones(49)]) == 1.0
    assert bootstrap_p_value(np.r_[-np.ones(10), np.ones(89)]) == pytest.approx(22 / 100)
    assert np.isnan(bootstrap_p_value(np.array([np.nan])))


def test_fid_and_kid_resample_the_real_set_with_the_generated_one(standin_inception, tmp_path):
    """Real metric classes on injected features: the real rows follow the positions, the same
    for both models."""
    shared = with_settings({}, MetricSettings(
        weights=(("inception-fid", str(standin_inception)),), download=False, use_cache=False,
        kid_subset_size=4))
    rng = np.random.default_rng(3)
    n, d = 8, 2048
    names = [f"t{i}.jpg" for i in range(n)]
    real = rng.normal(size=(n, d)).astype(np.float32)
    for cls in (FID, KID):
        a, b = cls(shared, model="a"), cls(shared, model="b")
        assert a.real is b.real  # one real set for both models
        a.real._rows = dict(zip(names, real, strict=True))
        looked_up = []
        original = a.real.features
        a.real.features = (lambda ns, seen=looked_up, original=original:
                           seen.append(list(ns)) or original(ns))
        for m, shift in ((a, 0.0), (b, 0.5)):  # b: the features' mean shifted
            m._parts = [(real + shift + rng.normal(0, 0.1, real.shape)).astype(np.float32)]
            m._names = list(names)
        full = np.arange(n)
        c = paired_set_comparison(a.compute_on, b.compute_on, n, a.compute_on(full),
                                  b.compute_on(full), resamples=60, seed=1)[cls.name]
        del a.real.features
        draws = np.concatenate(list(resample_positions(n, 60, 1)))
        # two lookups per resample (a, then b), both the names at that resample's positions
        assert looked_up[2:] == [[names[i] for i in p] for p in draws for _ in range(2)]
        assert c.difference < 0 and c.significant
        same = paired_set_comparison(a.compute_on, a.compute_on, n, a.compute_on(full),
                                     a.compute_on(full), resamples=20, seed=1)[cls.name]
        assert same.difference == 0 and same.p_value == 1


# -- bench compare on runs -------------------------------------------------------------------


def _run(tmp_path, name, **kw):
    settings = dict(models=("oracle", "source"), dataset="synthetic", limit=5, batch_size=8,
                    bootstrap=0, out=tmp_path / name)
    settings.update(kw)
    return run(RunConfig(**settings), progress=False, echo=lambda s: None).run_dir


def test_missing_weights_make_the_set_level_comparison_unavailable(synthetic_parent, tmp_path,
                                                                  empty_hub, capsys):
    out = _run(tmp_path, "r", data_root=synthetic_parent, metrics=("ssim", "fid"), offline=True)
    assert main(["compare", str(out), "--models", "oracle,source", "--resamples", "200",
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "ssim: 1 vs" in text  # the per-pair comparison still prints
    line = next(li for li in text.splitlines() if li.startswith("  fid:"))
    assert "unavailable: inception-fid weights" in line and "--offline" in line
    # an explicit weights file that is not there: unavailable too, never random weights
    assert main(["compare", str(out), "--models", "oracle,source", "--quiet",
                 "--weights", f"inception-fid={tmp_path / 'nowhere.pth'}"]) == 0
    assert "fid: unavailable: inception-fid weights" in capsys.readouterr().out


def test_a_run_without_images_says_so(synthetic_parent, tmp_path, empty_hub, capsys):
    out = _run(tmp_path, "r", data_root=synthetic_parent, metrics=("ssim", "kid"),
               save_images=False, offline=True)
    assert main(["compare", str(out), "--models", "oracle,source", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "ssim:" in text
    assert "kid: unavailable: the run was made with --no-images" in text


def test_a_changed_dataset_is_refused(market_folder, tmp_path, empty_hub, capsys):
    out = _run(tmp_path, "r", dataset="market", data_root=market_folder,
               metrics=("ssim", "is"), offline=True)
    pairs_file = market_folder / "market-pairs-test.csv"
    lines = pairs_file.read_text().splitlines()
    pairs_file.write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n")
    assert main(["compare", str(out), "--models", "oracle,source"]) == 2
    captured = capsys.readouterr()
    assert "no longer gives run r's pairs" in captured.err and "--set-resamples 0" in captured.err
    assert captured.out == ""  # refused before any comparison is printed
    with pytest.raises(BenchError, match="pairs sha256"):
        prepare_set_level(out, "oracle", "source")
    # the per-pair comparison alone needs no dataset
    assert main(["compare", str(out), "--models", "oracle,source", "--set-resamples", "0"]) == 0
    text = capsys.readouterr().out
    assert "ssim:" in text and "not compared (--set-resamples 0): is" in text
    # a dataset that is gone: refused, naming --data-root
    assert main(["compare", str(out), "--models", "oracle,source",
                 "--data-root", str(tmp_path / "gone")]) == 2
    assert "--data-root" in capsys.readouterr().err


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory, synthetic_parent, standin_inception):
    """oracle and source on 5 synthetic pairs with IS, FID and KID through the stand-in
    Inception (real features cached)."""
    tmp = tmp_path_factory.mktemp("set-level")
    out = _run(tmp, "run", data_root=synthetic_parent, metrics=("ssim", "is", "fid", "kid"),
               weights=(("inception-fid", str(standin_inception)),), offline=True,
               stats_cache=tmp / "stats")
    return out


@pytest.mark.slow
def test_oracle_against_source_recomputes_the_runs_values_and_is_significant(scored_run):
    recorded = {(r.model, r.key): r.value for r in read_records(scored_run / "records.jsonl")
                if r.kind == "metric"}
    result = prepare_set_level(scored_run, "oracle", "source").run()
    assert result.n == 5 and result.left_out == 0 and result.resamples == 100
    assert list(result.comparisons) == ["is", "fid", "kid"]
    for key in ("is", "fid", "kid"):  # the full-set values are the run's
        c = result.comparisons[key]
        assert c.mean_a == pytest.approx(recorded[("oracle", key)], rel=1e-4, abs=1e-6)
        assert c.mean_b == pytest.approx(recorded[("source", key)], rel=1e-4, abs=1e-6)
        assert c.difference == pytest.approx(c.mean_a - c.mean_b)
    fid = result.comparisons["fid"]  # oracle's images are the targets: FID 0 on any resample
    assert fid.interval[1] < 0 and fid.p_value == pytest.approx(2 / 101) and fid.significant
    text = format_set_level("oracle", "source", result, scored_run)
    line = next(li for li in text.splitlines() if li.startswith("  fid (other weights):"))
    assert "n = 5, 100 resamples: significant at 0.05, oracle better" in line
    assert "real features: cache hit" in text  # the run wrote them; none recomputed
    assert "the run recorded" not in text  # no value differs from the run's


@pytest.mark.slow
def test_a_model_against_itself_differs_by_zero(scored_run):
    result = prepare_set_level(scored_run, "source", "source", ("is", "kid"),
                               resamples=50).run()
    for key in ("is", "kid"):
        c = result.comparisons[key]
        assert c.difference == 0 and c.interval == (0, 0)
        assert c.p_value == 1 and not c.significant
