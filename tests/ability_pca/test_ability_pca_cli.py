"""The command end to end: input shapes, missing values, duplicates, bad input, outputs, plots."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from tests.ability_pca.helpers import by_type, run_cli, wide_records, write_jsonl

RNG = np.random.default_rng(42)
BASE = RNG.normal(size=(8, 4)) + np.arange(4)  # 8 models x 4 benchmarks, no constant column
NAMES = ["alpha", "beta", "gamma", "delta"]


def _matrix_of(records: list[dict]) -> dict[str, dict[str, float]]:
    """The factor scores of the model records, by model."""
    return {r["model"]: r["scores"] for r in by_type(records, "model")}


def test_long_wide_and_flat_inputs_give_the_same_analysis(tmp_path):
    models = [f"m{i}" for i in range(8)]
    wide = wide_records(BASE.tolist(), models, NAMES, size=list(range(1, 9)))
    long = [{"model": m, "benchmark": b, "score": float(BASE[i, j]), "size": i + 1}
            for j, b in enumerate(NAMES) for i, m in enumerate(models)]
    flat = [{"model": m, **{b: float(BASE[i, j]) for j, b in enumerate(NAMES)}, "size": i + 1}
            for i, m in enumerate(models)]
    results = []
    for name, records, extra in [("wide", wide, []), ("long", long, []), ("flat", flat, ["--covariates", "size"])]:
        code, out, err = run_cli(["-i", str(write_jsonl(tmp_path / f"{name}.jsonl", records)), *extra], tmp_path)
        assert code == 0, err
        results.append(out)
    assert "using the numeric field(s) alpha, beta, gamma, delta as benchmarks" in err  # flat, auto-detected
    for out in results:
        out[0].pop("warnings")
    for out in results[1:]:
        assert out == results[0]
    notes = by_type(results[0], "notes")[0]
    assert notes["benchmarks"] == NAMES and notes["models"] == 8
    model = by_type(results[0], "model")[0]
    assert model["covariates"] == {"size": 1}


def test_benchmarks_option_selects_and_orders(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(BASE.tolist(), benchmarks=NAMES))
    code, out, _ = run_cli(["-i", str(path), "--benchmarks", "delta,alpha,gamma"], tmp_path)
    assert code == 0
    assert by_type(out, "notes")[0]["benchmarks"] == ["delta", "alpha", "gamma"]
    assert list(by_type(out, "component")[0]["loadings"]) == ["delta", "alpha", "gamma"]
    code, _, err = run_cli(["-i", str(path), "--benchmarks", "alpha,nope"], tmp_path)
    assert code == 2 and "nope" in err


def test_output_records_match_sklearn_and_are_valid_json(tmp_path):
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    path = write_jsonl(tmp_path / "in.jsonl", wide_records(BASE.tolist(), benchmarks=NAMES))
    code, out, err = run_cli(["-i", str(path), "--components", "2"], tmp_path)
    assert code == 0, err
    z = StandardScaler().fit_transform(BASE)
    reference = PCA(n_components=2).fit(z)
    components = by_type(out, "component")
    assert [c["component"] for c in components] == ["PC1", "PC2"]
    scores = np.array([[m["scores"]["PC1"], m["scores"]["PC2"]] for m in by_type(out, "model")])
    for k, component in enumerate(components):
        assert component["explained_variance_ratio"] == pytest.approx(reference.explained_variance_ratio_[k])
        loadings = np.array([component["loadings"][b] for b in NAMES])
        sign = np.sign(loadings @ reference.components_[k])
        np.testing.assert_allclose(loadings, sign * reference.components_[k], atol=1e-10)
        np.testing.assert_allclose(scores[:, k], sign * reference.transform(z)[:, k], atol=1e-9)
    assert len(by_type(out, "correlation")) == 6
    assert "Explained variance" in err and "Loadings" in err


def test_missing_policies(tmp_path):
    values = BASE.tolist()
    values[1][2] = None  # m1 lacks gamma
    values[5][2] = None  # m5 lacks gamma
    values[6][0] = None  # m6 lacks alpha
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(values, benchmarks=NAMES))

    code, out, err = run_cli(["-i", str(path)], tmp_path)
    assert code == 0
    notes = by_type(out, "notes")[0]
    assert notes["missing"]["dropped_models"] == {"m1": ["gamma"], "m5": ["gamma"], "m6": ["alpha"]}
    assert notes["models"] == 5 and "dropped 3 model(s)" in err

    code, out, err = run_cli(["-i", str(path), "--missing", "drop-benchmarks"], tmp_path)
    notes = by_type(out, "notes")[0]
    assert notes["benchmarks"] == ["beta", "delta"] and notes["models"] == 8
    assert notes["missing"]["dropped_benchmarks"] == {"alpha": ["m6"], "gamma": ["m1", "m5"]}
    assert "dropped 2 benchmark(s)" in err

    code, out, err = run_cli(["-i", str(path), "--missing", "mean"], tmp_path)
    notes = by_type(out, "notes")[0]
    gamma_mean = np.mean([BASE[i, 2] for i in range(8) if i not in (1, 5)])
    filled = {(c["model"], c["benchmark"]): c["value"] for c in notes["missing"]["filled"]}
    assert filled[("m1", "gamma")] == pytest.approx(gamma_mean)
    assert filled[("m6", "alpha")] == pytest.approx(np.mean(np.delete(BASE[:, 0], 6)))
    assert len(filled) == 3 and "filled 3 missing cell(s)" in err
    assert _matrix_of(out)["m1"] and by_type(out, "model")[1]["filled"] == ["gamma"]

    # the filled matrix is what is analysed: compare with a PCA of it
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    complete = BASE.copy()
    complete[1, 2] = complete[5, 2] = gamma_mean
    complete[6, 0] = filled[("m6", "alpha")]
    ratio = PCA().fit(StandardScaler().fit_transform(complete)).explained_variance_ratio_[0]
    assert by_type(out, "component")[0]["explained_variance_ratio"] == pytest.approx(ratio)


def test_no_missing_is_still_reported(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(BASE.tolist(), benchmarks=NAMES))
    code, out, err = run_cli(["-i", str(path), "-q"], tmp_path)
    assert code == 0 and "missing values (drop-models): none" in err
    assert "Explained variance" not in err  # -q: no tables
    assert by_type(out, "notes")[0]["missing"]["missing_cells"] == 0


def test_constant_benchmark_is_dropped_with_a_warning(tmp_path):
    values = np.column_stack([BASE, np.full(8, 0.25)])
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(values.tolist(), benchmarks=[*NAMES, "flat"]))
    code, out, err = run_cli(["-i", str(path)], tmp_path)
    assert code == 0
    notes = by_type(out, "notes")[0]
    assert notes["missing"]["constant_benchmarks"] == {"flat": 0.25} and "flat" not in notes["benchmarks"]
    assert "constant benchmark" in err and "flat" in err


def test_too_few_models_after_dropping_is_exit_65(tmp_path):
    values = BASE[:4].tolist()
    values[0][0] = values[1][1] = None
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(values, benchmarks=NAMES))
    code, out, err = run_cli(["-i", str(path)], tmp_path)
    assert code == 65 and "at least 3 models" in err and "2 model(s)" in err


def test_non_numeric_score_names_line_and_field(tmp_path):
    records = wide_records(BASE.tolist(), benchmarks=NAMES)
    records[4]["scores"]["gamma"] = "0.7"
    path = write_jsonl(tmp_path / "in.jsonl", records)
    code, out, err = run_cli(["-i", str(path)], tmp_path)
    assert code == 65
    assert f"{path}:5" in err and "scores.gamma" in err and "'0.7'" in err
    long = [{"model": "a", "benchmark": "x", "score": 1.0}, {"model": "a", "benchmark": "y", "score": [1]}]
    path = write_jsonl(tmp_path / "long.jsonl", long)
    code, _, err = run_cli(["-i", str(path)], tmp_path)
    assert code == 65 and f"{path}:2" in err and "'score'" in err


def _flat_records() -> list[dict]:
    return [{"model": f"m{i}", **{b: float(BASE[i, j]) for j, b in enumerate(NAMES)}, "size": i + 1} for i in range(8)]


@pytest.mark.parametrize("bad", ["0.5", [0.5], True, {"v": 0.5}])
@pytest.mark.parametrize("line", [1, 5])  # before and after the field is first seen as a number
def test_flat_non_numeric_score_is_exit_65(tmp_path, bad, line):
    records = _flat_records()
    records[line - 1]["gamma"] = bad
    path = write_jsonl(tmp_path / "in.jsonl", records)
    code, out, err = run_cli(["-i", str(path), "--covariates", "size"], tmp_path)
    assert code == 65 and out == [], err
    assert f"{path}:{line}: field 'gamma': score is not a number" in " ".join(err.split())


def test_flat_null_score_is_a_missing_cell(tmp_path):
    records = _flat_records()
    records[0]["gamma"] = None  # before gamma is first seen as a number
    records[4]["beta"] = None
    path = write_jsonl(tmp_path / "in.jsonl", records)
    code, out, err = run_cli(["-i", str(path), "--covariates", "size"], tmp_path)
    assert code == 0, err
    notes = by_type(out, "notes")[0]
    assert sorted(notes["benchmarks"]) == sorted(NAMES) and notes["missing"]["dropped_models"] == {"m0": ["gamma"], "m4": ["beta"]}
    code, out, err = run_cli(["-i", str(path), "--covariates", "size", "--missing", "mean"], tmp_path)
    assert code == 0, err
    assert by_type(out, "model")[0]["covariates"] == {"size": 1} and by_type(out, "model")[0]["filled"] == ["gamma"]


def test_duplicates(tmp_path):
    records = [{"model": "a", "benchmark": "x", "score": 1.0}, {"model": "b", "benchmark": "x", "score": 2.0},
               {"model": "c", "benchmark": "x", "score": 4.0}, {"model": "a", "benchmark": "y", "score": 1.0},
               {"model": "b", "benchmark": "y", "score": 5.0}, {"model": "c", "benchmark": "y", "score": 3.0},
               {"model": "a", "benchmark": "x", "score": 3.0}]
    path = write_jsonl(tmp_path / "in.jsonl", records)
    code, _, err = run_cli(["-i", str(path)], tmp_path)
    assert code == 65 and f"{path}:7" in err and f"first at {path}:1" in err and "'a'" in err
    code, out, _ = run_cli(["-i", str(path), "--duplicates", "mean", "--no-standardize"], tmp_path)
    # a = (2, 1): with x mean-combined, the x column is (2, 2, 4)
    assert code == 0
    x_col = np.array([2.0, 2.0, 4.0]) - np.mean([2.0, 2.0, 4.0])
    y_col = np.array([1.0, 5.0, 3.0]) - 3.0
    total = x_col.var(ddof=1) + y_col.var(ddof=1)
    assert by_type(out, "notes")[0]["total_variance"] == pytest.approx(total)
    code, out, _ = run_cli(["-i", str(path), "--duplicates", "last", "--no-standardize"], tmp_path)
    x_last = np.array([3.0, 2.0, 4.0])
    assert by_type(out, "notes")[0]["total_variance"] == pytest.approx(x_last.var(ddof=1) + y_col.var(ddof=1))


def test_records_without_model_or_scores_are_rejected(tmp_path):
    records = wide_records(BASE.tolist(), benchmarks=NAMES)
    records.append({"scores": {"alpha": 1.0}})
    records.append({"model": "z", "note": "nothing"})
    path = write_jsonl(tmp_path / "in.jsonl", records)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = run_cli(["-i", str(path), "--rejects", str(rejects)], tmp_path)
    assert code == 0
    reasons = [(orjson.loads(line)["reject"]["reason"], orjson.loads(line)["reject"]["source"])
               for line in rejects.read_bytes().splitlines()]
    assert reasons == [("missing_field", f"{path}:9"), ("no_scores", f"{path}:10")]
    assert by_type(out, "notes")[0]["models"] == 8


def _rejects(path) -> list[tuple[str, str, str]]:
    """(reason, source, detail) of each line of a rejects file."""
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [(r["reject"]["reason"], r["reject"]["source"], r["reject"].get("detail", "")) for r in lines]


def test_models_dropped_for_missing_scores_go_to_rejects(tmp_path):
    values = BASE.tolist()
    values[1][2] = None  # m1 lacks gamma
    values[6][0] = values[6][3] = None  # m6 lacks alpha and delta
    records = wide_records(values, benchmarks=NAMES)
    path = write_jsonl(tmp_path / "in.jsonl", records)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = run_cli(["-i", str(path), "--rejects", str(rejects)], tmp_path)
    assert code == 0, err
    assert by_type(out, "notes")[0]["models"] == 6
    found = _rejects(rejects)
    assert [(reason, source) for reason, source, _ in found] == [("missing_scores", f"{path}:2"), ("missing_scores", f"{path}:7")]
    assert "'m1'" in found[0][2] and "gamma" in found[0][2] and "alpha, delta" in found[1][2]
    assert orjson.loads(rejects.read_bytes().splitlines()[1])["scores"] == records[6]["scores"]  # the record as it came
    assert "rejected 2 (missing_scores 2)" in err  # the summary counts them
    # long records: every record of a dropped model goes, each with its line
    long = [{"model": f"m{i}", "benchmark": b, "score": v} for i, row in enumerate(values)
            for b, v in zip(NAMES, row) if v is not None]
    path = write_jsonl(tmp_path / "long.jsonl", long)
    code, out, err = run_cli(["-i", str(path), "--rejects", str(rejects)], tmp_path)
    assert code == 0 and by_type(out, "notes")[0]["models"] == 6
    dropped = [long[int(source.rsplit(":", 1)[1]) - 1]["model"] for _, source, _ in _rejects(rejects)]
    assert dropped == ["m1"] * 3 + ["m6"] * 2 and "rejected 5 (missing_scores 5)" in err


def test_records_of_dropped_benchmarks_and_replaced_duplicates_go_to_rejects(tmp_path):
    values = np.column_stack([BASE, np.full(8, 0.25)]).tolist()
    values[1][2] = None  # gamma: dropped by drop-benchmarks
    names = [*NAMES, "flat"]  # flat: constant
    long = [{"model": f"m{i}", "benchmark": b, "score": v} for i, row in enumerate(values)
            for b, v in zip(names, row) if v is not None]
    long.append({"model": "m0", "benchmark": "alpha", "score": 9.0})  # replaces line 1 under --duplicates last
    path = write_jsonl(tmp_path / "in.jsonl", long)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = run_cli(["-i", str(path), "--rejects", str(rejects), "--missing", "drop-benchmarks",
                              "--duplicates", "last"], tmp_path)
    assert code == 0, err
    assert by_type(out, "notes")[0]["benchmarks"] == ["alpha", "beta", "delta"]
    found = _rejects(rejects)
    reasons = {}
    for reason, source, _detail in found:
        reasons.setdefault(reason, []).append(long[int(source.rsplit(":", 1)[1]) - 1]["benchmark"])
    assert reasons == {"duplicate": ["alpha"], "missing_scores": ["gamma"] * 7, "constant_benchmark": ["flat"] * 8}
    assert found[0][1] == f"{path}:1" and f"{path}:{len(long)}" in found[0][2]
    assert "(no score from m1)" in next(d for r, _, d in found if r == "missing_scores")
    assert "rejected 16 (constant_benchmark 8, missing_scores 7, duplicate 1)" in err
    # --duplicates mean: every value is used, nothing more is rejected; a wide record keeps a used column
    code, _, err = run_cli(["-i", str(path), "--rejects", str(rejects), "--missing", "drop-benchmarks",
                            "--duplicates", "mean"], tmp_path)
    assert code == 0 and "duplicate" not in {r for r, _, _ in _rejects(rejects)}
    wide = write_jsonl(tmp_path / "wide.jsonl", wide_records(values, benchmarks=names))
    code, _, err = run_cli(["-i", str(wide), "--rejects", str(rejects), "--missing", "drop-benchmarks"], tmp_path)
    assert code == 0 and _rejects(rejects) == [] and "rejected 0" in err


def test_records_with_no_score_for_the_chosen_benchmarks_are_rejected(tmp_path):
    long = [{"model": f"m{i}", "benchmark": b, "score": float(BASE[i, j])} for i in range(8) for j, b in enumerate(NAMES)]
    long.append({"model": "m9", "scores": {"omega": 1.0}})  # wide, none of --benchmarks
    path = write_jsonl(tmp_path / "in.jsonl", long)
    rejects = tmp_path / "rejects.jsonl"
    code, out, err = run_cli(["-i", str(path), "--rejects", str(rejects), "--benchmarks", "alpha,beta,gamma"], tmp_path)
    assert code == 0, err
    assert by_type(out, "notes")[0]["models"] == 8  # m9 is not a model of the table
    found = _rejects(rejects)
    assert [r for r, _, _ in found] == ["not_selected"] * 8 + ["no_scores"]
    assert "'delta' is not in --benchmarks" in found[0][2] and "--benchmarks" in found[-1][2]


def test_where_selects_records(tmp_path):
    kinds = ["base", "inst"] * 4
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(BASE.tolist(), benchmarks=NAMES, type=kinds))
    code, out, err = run_cli(["-i", str(path), "--where", "type=base", "--components", "2"], tmp_path)
    assert code == 0 and by_type(out, "notes")[0]["models"] == 4
    assert "not_selected 4" in err
    code, _, err = run_cli(["-i", str(path), "--where", "type"], tmp_path)
    assert code == 2


def test_regression_finds_a_planted_scaling_and_matches_linregress(tmp_path):
    from scipy import stats

    rng = np.random.default_rng(1)
    compute = 10 ** rng.uniform(20, 24, size=30)
    general = np.log10(compute) - 22  # the general ability grows with log compute
    values = np.column_stack([general + 0.2 * rng.normal(size=30) for _ in range(5)] + [rng.normal(size=30)])
    compute_field = [float(c) for c in compute]
    compute_field[3] = -1.0  # cannot be logged
    compute_field[7] = None
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(values.tolist(), compute=compute_field))
    code, out, err = run_cli(["-i", str(path), "--regress-on", "compute", "--log", "--components", "2"], tmp_path)
    assert code == 0, err
    regressions = {r["component"]: r for r in by_type(out, "regression")}
    pc1 = regressions["PC1"]
    assert pc1["n"] == 28 and pc1["log10"] is True and pc1["p_value"] < 1e-8 and pc1["r2"] > 0.8
    assert set(pc1["excluded"]) == {"m3", "m7"} and "m3 (not positive under --log" in err
    kept = [i for i in range(30) if i not in (3, 7)]
    scores = np.array([m["scores"]["PC1"] for m in by_type(out, "model")])[kept]
    ref = stats.linregress(np.log10(compute[kept]), scores)
    assert pc1["slope"] == pytest.approx(ref.slope) and pc1["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert pc1["slope"] > 0  # the sign convention makes the general factor positive in its benchmarks
    code, _, err = run_cli(["-i", str(path), "--log"], tmp_path)
    assert code == 2 and "--regress-on" in err


def test_varimax_output_and_no_nan(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(BASE.tolist(), benchmarks=NAMES, size=[1] * 8))
    code, out, err = run_cli(["-i", str(path), "--rotation", "varimax", "--components", "2",
                              "--regress-on", "size", "--spearman"], tmp_path)
    assert code == 0
    rotated = [c for c in by_type(out, "component") if c["rotation"] == "varimax"]
    assert [c["component"] for c in rotated] == ["RC1", "RC2"]
    unrotated = [c for c in by_type(out, "component") if c["rotation"] is None]
    for benchmark in NAMES:  # communality kept
        before = sum(c["scaled_loadings"][benchmark] ** 2 for c in unrotated)
        after = sum(c["scaled_loadings"][benchmark] ** 2 for c in rotated)
        assert after == pytest.approx(before)
    assert set(by_type(out, "model")[0]["rotated_scores"]) == {"RC1", "RC2"}
    assert by_type(out, "correlation")[0]["method"] == "spearman"
    # a constant covariate: the fit is undefined, written as null (never NaN)
    assert all(r["slope"] is None for r in by_type(out, "regression"))
    text = (tmp_path / "out.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
    code, _, err = run_cli(["-i", str(path), "--components", "9"], tmp_path)
    assert code == 2 and "only 4 component(s)" in err


def test_plots_are_written(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", wide_records(BASE.tolist(), benchmarks=NAMES,
                                                           size=list(range(1, 9))))
    plot_dir = tmp_path / "figures"
    code, out, err = run_cli(["-i", str(path), "--plot", str(plot_dir), "--regress-on", "size",
                              "--rotation", "varimax", "--components", "2"], tmp_path)
    assert code == 0, err
    names = sorted(p.name for p in plot_dir.iterdir())
    assert names == ["biplot.png", "correlation.png", "loadings.png", "regression.png", "scree.png"]
    for png in plot_dir.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert sorted(by_type(out, "notes")[0]["plots"]) == sorted(str(plot_dir / n) for n in names)


def test_swallow_base_models_match_sklearn(shared_data, tmp_path):
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    source = shared_data / "swallow_eval_scores.jsonl"
    records = [orjson.loads(line) for line in source.read_bytes().splitlines()]
    base = [r for r in records if r["type"] == "base"]
    benchmarks = list(base[0]["scores"])
    matrix = np.array([[r["scores"][b] for b in benchmarks] for r in base])
    code, out, err = run_cli(["-i", str(source), "--where", "type=base", "--regress-on", "size_b", "--log"],
                             tmp_path)
    assert code == 0, err
    notes = by_type(out, "notes")[0]
    assert notes["models"] == 63 and notes["benchmarks"] == benchmarks
    z = StandardScaler().fit_transform(matrix)
    reference = PCA().fit(z)
    np.testing.assert_allclose(notes["spectrum"], reference.explained_variance_ratio_, atol=1e-10)
    components = by_type(out, "component")
    assert 1 <= len(components) <= 5
    cumulative = np.cumsum(reference.explained_variance_ratio_)
    assert cumulative[len(components) - 1] >= 0.9 and (len(components) == 1 or cumulative[len(components) - 2] < 0.9)
    scores = np.array([[m["scores"][c["component"]] for c in components] for m in by_type(out, "model")])
    for k, component in enumerate(components):
        loadings = np.array([component["loadings"][b] for b in benchmarks])
        sign = np.sign(loadings @ reference.components_[k])
        np.testing.assert_allclose(loadings, sign * reference.components_[k], atol=1e-9)
        np.testing.assert_allclose(scores[:, k], sign * reference.transform(z)[:, k], atol=1e-8)
    # a general factor: every benchmark loads positively on PC1, and it grows with model size
    assert all(v > 0 for v in components[0]["loadings"].values())
    pc1 = next(r for r in by_type(out, "regression") if r["component"] == "PC1")
    assert pc1["slope"] > 0 and pc1["p_value"] < 1e-3 and pc1["n"] == 63
    assert not math.isnan(pc1["r2"])


def test_example_table_recovers_its_three_planted_factors(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "ability_pca" / "ability_pca_scores.jsonl"
    code, out, err = run_cli(["-i", str(example), "--missing", "mean", "--rotation", "varimax", "--components", "3",
                              "--regress-on", "compute_zflops", "--log"], tmp_path)
    assert code == 0, err
    rotated = [c for c in by_type(out, "component") if c["rotation"] == "varimax"]
    top = [set(sorted(c["scaled_loadings"], key=c["scaled_loadings"].get)[-2:]) for c in rotated]
    assert {"ja_knowledge_qa", "en_ja_translation"} in top
    assert {"math_word", "code_synthesis"} in top
    general = rotated[[i for i, t in enumerate(top) if t <= {"en_commonsense", "en_knowledge_qa", "en_exam"}][0]]
    regression = next(r for r in by_type(out, "regression") if r["component"] == general["component"])
    assert regression["slope"] > 0 and regression["p_value"] < 0.01
