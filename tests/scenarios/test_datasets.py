"""The teaching data sets: generators are reproducible and shaped right, CSVs fail loudly."""

from __future__ import annotations

import math
import pathlib
import pickle

import pytest
import torch

from mlp_tui.scenarios.datasets import (
    KINDS,
    Dataset,
    DatasetError,
    load_csv,
    make_dataset,
    standardize,
)

IRIS = pathlib.Path(__file__).parents[2] / "mlp_tui" / "scenarios" / "library" / "data" / "iris.csv"
CLASSIFIERS = ("xor", "moons", "circles", "spiral", "blobs")


def radius(x: torch.Tensor) -> torch.Tensor:
    return x.norm(dim=1)  # (samples, 2) -> (samples,)


# ---------------------------------------------------------------------- generators


def test_kinds_lists_every_generator():
    assert KINDS == ("xor", "moons", "circles", "spiral", "blobs", "sine")


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_tensors_different_seed_different(kind):
    a = make_dataset(kind, samples=60, noise=0.2, seed=7)
    b = make_dataset(kind, samples=60, noise=0.2, seed=7)
    c = make_dataset(kind, samples=60, noise=0.2, seed=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_even_when_the_default_dtype_is_float64(kind):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the scratch-vs-torch tests do this
    try:
        ds = make_dataset(kind, samples=20, noise=0.1, seed=0)
        iris = standardize(load_csv(IRIS, target="species"))
    finally:
        torch.set_default_dtype(previous)
    assert ds.x.dtype == iris.x.dtype == torch.float32
    assert ds.y.dtype == (torch.float32 if kind == "sine" else torch.int64)


@pytest.mark.parametrize("kind", KINDS)
def test_global_rng_untouched(kind):
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    make_dataset(kind, samples=50, noise=0.3, seed=3)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize(
    ("kind", "samples"),
    [(k, n) for k in CLASSIFIERS for n in (3, 4, 101, 200)]
    + [("xor", 1), ("moons", 1), ("circles", 1)],
)
def test_classification_shapes_dtypes_and_balance(kind, samples):
    classes = 3 if kind in ("spiral", "blobs") else 2
    ds = make_dataset(kind, samples=samples, noise=0.1, seed=0, classes=3)
    assert ds.task == "classification"
    assert ds.x.shape == (samples, 2) and ds.x.dtype == torch.float32
    assert ds.y.shape == (samples,) and ds.y.dtype == torch.int64
    assert ds.feature_names == ("x1", "x2")
    assert ds.class_names == tuple(str(i) for i in range(classes))
    assert (ds.num_classes, ds.input_dim, ds.output_dim) == (classes, 2, classes)
    counts = torch.bincount(ds.y, minlength=classes)
    assert counts.sum() == samples
    assert counts.max() - counts.min() <= 1
    assert torch.isfinite(ds.x).all()


@pytest.mark.parametrize("kind", ["spiral", "blobs"])
def test_classes_argument_sets_the_class_count(kind):
    ds = make_dataset(kind, samples=50, noise=0.1, seed=0, classes=5)
    assert ds.num_classes == ds.output_dim == 5
    assert torch.bincount(ds.y).tolist() == [10, 10, 10, 10, 10]


def test_rows_are_shuffled_not_grouped_by_class():
    ds = make_dataset("blobs", samples=300, noise=0.5, seed=0)
    assert not torch.equal(ds.y, ds.y.sort().values)


def test_sine_shapes_and_regression_metadata():
    ds = make_dataset("sine", samples=33, noise=0.1, seed=0)
    assert ds.task == "regression"
    assert ds.x.shape == (33, 1) and ds.x.dtype == torch.float32
    assert ds.y.shape == (33, 1) and ds.y.dtype == torch.float32
    assert ds.feature_names == ("x",) and ds.class_names == ()
    assert (ds.num_classes, ds.input_dim, ds.output_dim) == (0, 1, 1)


@pytest.mark.parametrize("seed", [0, 1, 2, 99])
def test_xor_four_samples_without_noise_is_the_truth_table(seed):
    ds = make_dataset("xor", samples=4, noise=0, seed=seed)
    rows = sorted((tuple(p), int(c)) for p, c in zip(ds.x.tolist(), ds.y, strict=True))
    assert rows == [((-1.0, -1.0), 0), ((-1.0, 1.0), 1), ((1.0, -1.0), 1), ((1.0, 1.0), 0)]


def test_xor_label_is_xor_of_signs_and_noise_spreads_points():
    ds = make_dataset("xor", samples=400, noise=0.1, seed=0)
    assert torch.equal(ds.y, ((ds.x[:, 0] > 0) ^ (ds.x[:, 1] > 0)).long())
    off_corner = (ds.x.abs() - 1).abs()  # (400, 2)
    assert 0.05 < off_corner.mean() < 0.12  # E|N(0, 0.1)| ~ 0.08


def test_moons_geometry_without_noise():
    ds = make_dataset("moons", samples=200, noise=0, seed=0)
    upper, lower = ds.x[ds.y == 0], ds.x[ds.y == 1]
    assert (upper[:, 1] >= -1e-6).all()  # upper half of the unit circle
    assert torch.allclose(radius(upper), torch.ones(len(upper)), atol=1e-5)
    assert (lower[:, 1] <= 0.5 + 1e-6).all()  # lower half of the circle around (1, 0.5)
    centre = torch.tensor([1.0, 0.5])
    assert torch.allclose(radius(lower - centre), torch.ones(len(lower)), atol=1e-5)


def test_moons_noise_blurs_but_keeps_the_shape():
    ds = make_dataset("moons", samples=1000, noise=0.1, seed=0)
    upper = ds.x[ds.y == 0]
    assert (upper[:, 1] >= 0).float().mean() > 0.9
    assert 0.95 < radius(upper).mean() < 1.05


def test_circles_inner_radius_is_half_the_outer():
    exact = make_dataset("circles", samples=100, noise=0, seed=0)
    assert torch.allclose(radius(exact.x[exact.y == 0]), torch.ones(50), atol=1e-5)
    assert torch.allclose(radius(exact.x[exact.y == 1]), torch.full((50,), 0.5), atol=1e-5)
    noisy = make_dataset("circles", samples=2000, noise=0.05, seed=1)
    ratio = radius(noisy.x[noisy.y == 1]).mean() / radius(noisy.x[noisy.y == 0]).mean()
    assert ratio == pytest.approx(0.5, abs=0.03)


def test_spiral_arms_are_rotations_of_each_other_and_stay_in_the_unit_disc():
    ds = make_dataset("spiral", samples=150, noise=0, seed=0, classes=3)
    assert (radius(ds.x) <= 1 + 1e-6).all()
    turn = 4.0  # each arm starts where the previous one's angle range began + 4 rad
    # Points are (r sin t, r cos t); adding `turn` to t is this linear map.
    rotate = torch.tensor(
        [[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]], dtype=torch.float32
    )  # p @ rotate: (a, b) -> (a cos + b sin, b cos - a sin)
    arms = []
    for j in range(3):
        arm = ds.x[ds.y == j]  # (50, 2)
        arms.append(arm[radius(arm).argsort()])
    assert torch.allclose(arms[0] @ rotate, arms[1], atol=1e-4)
    assert torch.allclose(arms[1] @ rotate, arms[2], atol=1e-4)
    noisy = make_dataset("spiral", samples=150, noise=0.5, seed=0, classes=3)
    assert (radius(noisy.x) <= 1 + 1e-6).all()  # noise moves the angle, never the radius


def test_blobs_centres_on_radius_three_circle_evenly_spaced_and_seed_free():
    exact = make_dataset("blobs", samples=40, noise=0, seed=0, classes=4)
    other = make_dataset("blobs", samples=40, noise=0, seed=5, classes=4)
    centres = torch.stack([exact.x[exact.y == j].mean(0) for j in range(4)])  # (4, 2)
    again = torch.stack([other.x[other.y == j].mean(0) for j in range(4)])
    assert torch.allclose(centres, again)
    assert torch.allclose(radius(centres), torch.full((4,), 3.0), atol=1e-5)
    expected = torch.tensor([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0], [0.0, -3.0]])
    assert torch.allclose(centres, expected, atol=1e-5)
    for j in range(4):  # noise 0: every point sits on its centre
        assert torch.allclose(exact.x[exact.y == j], centres[j].expand(10, 2), atol=1e-6)


def test_blobs_noise_is_the_standard_deviation():
    ds = make_dataset("blobs", samples=6000, noise=0.7, seed=0, classes=3)
    spread = torch.cat([ds.x[ds.y == j] - ds.x[ds.y == j].mean(0) for j in range(3)])
    assert spread.std().item() == pytest.approx(0.7, rel=0.05)


def test_sine_without_noise_is_sin_x_within_minus_pi_pi():
    ds = make_dataset("sine", samples=500, noise=0, seed=0)
    assert (ds.x.abs() <= math.pi).all()
    assert ds.x.min() < -2.5 and ds.x.max() > 2.5  # covers the range
    assert torch.allclose(ds.y, torch.sin(ds.x), atol=1e-6)


def test_sine_noise_is_the_residual_standard_deviation():
    ds = make_dataset("sine", samples=4000, noise=0.2, seed=0)
    assert (ds.y - torch.sin(ds.x)).std().item() == pytest.approx(0.2, rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "key", "fragment"),
    [
        ({"samples": 0}, "data.samples", "must be an integer >= 1, got 0"),
        ({"samples": 2.5}, "data.samples", "got 2.5"),
        ({"samples": True}, "data.samples", "got True"),
        ({"noise": -0.1}, "data.noise", ">= 0, got -0.1"),
        ({"noise": float("nan")}, "data.noise", "finite"),
        ({"noise": float("inf")}, "data.noise", "finite"),
        ({"noise": "0.1"}, "data.noise", "must be a number"),
        ({"classes": 1}, "data.classes", "must be an integer >= 2, got 1"),
        ({"seed": -1}, "data.seed", "got -1"),
        ({"seed": 2**64}, "data.seed", "below 2**64"),
    ],
)
def test_bad_arguments_name_the_key(kwargs, key, fragment):
    args = {"samples": 10, "noise": 0.1, "seed": 0, "classes": 3} | kwargs
    with pytest.raises(DatasetError) as err:
        make_dataset("moons", **args)
    assert err.value.key == key
    assert fragment in str(err.value)


@pytest.mark.parametrize("kind", ["spiral", "blobs"])
def test_spiral_and_blobs_need_a_sample_per_class(kind):
    with pytest.raises(DatasetError) as err:
        make_dataset(kind, samples=4, noise=0.1, seed=0, classes=5)
    assert err.value.key == "data.samples"
    assert "one per class (5)" in str(err.value)
    exactly_enough = make_dataset(kind, samples=5, noise=0.1, seed=0, classes=5)
    assert sorted(exactly_enough.y.tolist()) == [0, 1, 2, 3, 4]


def test_unknown_kind_suggests_the_closest():
    with pytest.raises(DatasetError) as err:
        make_dataset("spirals", samples=10, noise=0.1, seed=0)
    assert err.value.key == "data.kind"
    assert "did you mean 'spiral'?" in str(err.value)
    with pytest.raises(DatasetError, match="load_csv"):
        make_dataset("csv", samples=10, noise=0.1, seed=0)


def test_dataset_error_is_a_value_error_that_pickles():
    err = DatasetError("data.path", "no such file: x.csv")
    assert isinstance(err, ValueError)
    assert (err.key, str(err)) == ("data.path", "no such file: x.csv")
    back = pickle.loads(pickle.dumps(err))
    assert (back.key, str(back)) == ("data.path", "no such file: x.csv")


def test_dataset_rejects_inconsistent_construction():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="feature names"):
        Dataset(x, torch.zeros(3, dtype=torch.int64), "classification", ("a",), ("0", "1"))
    with pytest.raises(ValueError, match="outside"):
        Dataset(x, torch.tensor([0, 1, 2]), "classification", ("a", "b"), ("0", "1"))
    with pytest.raises(ValueError, match="regression y"):
        Dataset(x, torch.zeros(3, dtype=torch.float32), "regression", ("a", "b"), ())


# ----------------------------------------------------------------------------- CSV


def write(tmp_path: pathlib.Path, text: str, name: str = "data.csv") -> pathlib.Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_error(path: pathlib.Path, **kwargs) -> DatasetError:
    kwargs.setdefault("target", "label")
    with pytest.raises(DatasetError) as err:
        load_csv(path, **kwargs)
    return err.value


def test_iris_loads_as_150_by_4_with_three_classes_of_50():
    ds = load_csv(IRIS, target="species")
    assert ds.task == "classification"
    assert ds.x.shape == (150, 4) and ds.x.dtype == torch.float32
    assert ds.feature_names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert ds.class_names == ("setosa", "versicolor", "virginica")
    assert torch.bincount(ds.y).tolist() == [50, 50, 50]
    assert ds.x[0].tolist() == pytest.approx([5.1, 3.5, 1.4, 0.2])
    assert ds.y[0] == 0 and ds.y[-1] == 2
    # Fisher's table, per-feature totals: a transcription slip would change one of these.
    assert ds.x.double().sum(0).tolist() == pytest.approx([876.5, 458.6, 563.7, 179.9], abs=1e-3)
    assert (ds.num_classes, ds.input_dim, ds.output_dim) == (3, 4, 3)


def test_classification_classes_sorted_as_strings(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2,dog\n3,4,cat\n5,6,dog\n7,8,9\n9,9,10\n")
    ds = load_csv(path, target="label")
    assert ds.class_names == ("10", "9", "cat", "dog")
    assert ds.y.tolist() == [3, 2, 3, 1, 0]
    assert ds.x.tolist() == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 9]]


def test_numeric_target_is_regression_even_if_integer(tmp_path):
    path = write(tmp_path, "x,label\n0.5,0\n1.5,1\n2.5,2\n")
    ds = load_csv(path, target="label")
    assert ds.task == "regression"
    assert ds.y.shape == (3, 1) and ds.y.dtype == torch.float32
    assert ds.y[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert ds.class_names == () and ds.output_dim == 1


def test_features_select_and_order_columns(tmp_path):
    path = write(tmp_path, "a,b,c,label\n1,2,3,x\n4,5,6,y\n")
    ds = load_csv(path, target="label", features=["c", "a"])
    assert ds.feature_names == ("c", "a")
    assert ds.x.tolist() == [[3, 1], [6, 4]]


def test_target_can_be_any_column_and_whitespace_bom_blank_lines_are_tolerated(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes("\ufefflabel , a\r\n\r\n yes , 1.0 \r\nno,2\r\n\r\n".encode())
    ds = load_csv(path, target="label")
    assert ds.feature_names == ("a",)
    assert ds.class_names == ("no", "yes")
    assert ds.y.tolist() == [1, 0]
    assert ds.x[:, 0].tolist() == [1.0, 2.0]


def test_missing_file(tmp_path):
    err = csv_error(tmp_path / "nope.csv")
    assert err.key == "data.path"
    assert str(err).startswith("no such file: ") and "nope.csv" in str(err)


def test_directory_is_not_a_file(tmp_path):
    err = csv_error(tmp_path)
    assert (err.key, str(err).startswith("not a file")) == ("data.path", True)


def test_empty_file(tmp_path):
    err = csv_error(write(tmp_path, ""))
    assert err.key == "data.path" and "empty file" in str(err)


def test_header_only(tmp_path):
    err = csv_error(write(tmp_path, "a,label\n\n"))
    assert err.key == "data.path" and "no data rows" in str(err)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,label\n1,caf\xe9\n".encode("latin-1"))
    err = csv_error(path)
    assert err.key == "data.path" and "not UTF-8" in str(err)


def test_target_not_found_lists_columns_and_suggests(tmp_path):
    err = csv_error(write(tmp_path, "sepal,species\n1,a\n2,b\n"), target="specie")
    assert err.key == "data.target"
    assert "no column 'specie'" in str(err)
    assert "'sepal', 'species'" in str(err)
    assert "did you mean 'species'?" in str(err)


def test_target_not_found_without_close_match_has_no_suggestion(tmp_path):
    err = csv_error(write(tmp_path, "a,b\n1,2\n"), target="zzzz")
    assert err.key == "data.target" and "did you mean" not in str(err)


def test_feature_not_found_suggests(tmp_path):
    err = csv_error(write(tmp_path, "width,height,label\n1,2,a\n3,4,b\n"), features=["widht"])
    assert err.key == "data.features"
    assert "no column 'widht'" in str(err) and "did you mean 'width'?" in str(err)


@pytest.mark.parametrize(
    ("features", "fragment"),
    [
        ([], "at least one column"),
        (["a", "a"], "'a' more than once"),
        (["a", "label"], "'label' is the target"),
    ],
)
def test_bad_feature_lists(tmp_path, features, fragment):
    err = csv_error(write(tmp_path, "a,b,label\n1,2,x\n3,4,y\n"), features=features)
    assert err.key == "data.features" and fragment in str(err)


def test_only_a_target_column(tmp_path):
    err = csv_error(write(tmp_path, "label\nx\ny\n"))
    assert err.key == "data.features" and "no feature columns" in str(err)


def test_duplicate_or_unnamed_header_columns(tmp_path):
    dup = csv_error(write(tmp_path, "a,a,label\n1,2,x\n3,4,y\n"))
    assert dup.key == "data.features" and "'a' appears more than once" in str(dup)
    twice = csv_error(write(tmp_path, "a,label,label\n1,x,x\n3,y,y\n"))
    assert twice.key == "data.target" and "appears 2 times" in str(twice)
    unnamed = csv_error(write(tmp_path, ",a,label\n0,1,x\n1,3,y\n"))
    assert unnamed.key == "data.features" and "column 1 has no name" in str(unnamed)
    # Naming the features explicitly sidesteps the unnamed index column.
    ds = load_csv(write(tmp_path, ",a,label\n0,1,x\n1,3,y\n"), target="label", features=["a"])
    assert ds.x[:, 0].tolist() == [1.0, 3.0]


def test_non_numeric_feature_names_row_and_column(tmp_path):
    err = csv_error(write(tmp_path, "a,b,label\n1,2,x\n3,four,y\n"))
    assert err.key == "data.path"
    assert str(err) == "row 3, column 'b': not a number: 'four'"


def test_empty_feature_value(tmp_path):
    err = csv_error(write(tmp_path, "a,b,label\n1,,x\n3,4,y\n"))
    assert str(err) == "row 2, column 'b': empty value"


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", "NaN"])
def test_non_finite_feature(tmp_path, bad):
    rows = "".join(f"{i},{i},{'xy'[i % 2]}\n" for i in range(5))
    err = csv_error(write(tmp_path, f"a,b,label\n{rows}6,{bad},x\n"))
    assert err.key == "data.path"
    assert str(err) == f"row 7, column 'b': not a finite number: '{bad}'"


def test_non_finite_numeric_target(tmp_path):
    err = csv_error(write(tmp_path, "x,label\n1,0.5\n2,nan\n"))
    assert err.key == "data.path"
    assert str(err) == "row 3, column 'label': not a finite number: 'nan'"


def test_value_beyond_float32(tmp_path):
    err = csv_error(write(tmp_path, "x,label\n1e39,a\n2,b\n"))
    assert err.key == "data.path" and "row 2, column 'x'" in str(err) and "float32" in str(err)


def test_empty_target_value(tmp_path):
    err = csv_error(write(tmp_path, "x,label\n1,a\n2,\n"))
    assert str(err) == "row 3, column 'label': empty value"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("1,2,x\n3,y\n", "row 3: expected 3 fields, got 2"),
        ("1,2,x\n3,4,y,extra\n", "row 3: expected 3 fields, got 4"),
    ],
)
def test_ragged_rows(tmp_path, body, fragment):
    err = csv_error(write(tmp_path, "a,b,label\n" + body))
    assert err.key == "data.path" and str(err) == fragment


def test_row_numbers_count_skipped_blank_lines(tmp_path):
    err = csv_error(write(tmp_path, "a,label\n1,x\n\n\nz,y\n"))
    assert str(err) == "row 5, column 'a': not a number: 'z'"


def test_fewer_than_two_classes(tmp_path):
    err = csv_error(write(tmp_path, "a,label\n1,cat\n2,cat\n"))
    assert err.key == "data.target"
    assert "single class ('cat')" in str(err)


# ------------------------------------------------------------------------ standardize


def test_standardize_gives_zero_mean_unit_std_and_leaves_targets():
    ds = load_csv(IRIS, target="species")
    st = standardize(ds)
    assert st.x.dtype == torch.float32 and st.x.shape == ds.x.shape
    assert torch.allclose(st.x.mean(0), torch.zeros(4, dtype=torch.float32), atol=1e-5)
    assert torch.allclose(st.x.std(0, correction=0), torch.ones(4, dtype=torch.float32), atol=1e-5)
    assert st.y is ds.y and st.class_names == ds.class_names
    assert st.feature_names == ds.feature_names
    assert ds.x[0, 0] == pytest.approx(5.1)  # the original is not modified


def test_standardize_keeps_a_constant_column_finite(tmp_path):
    ds = load_csv(write(tmp_path, "c,v,label\n5,1,a\n5,2,b\n5,3,a\n"), target="label")
    st = standardize(ds)
    assert torch.isfinite(st.x).all()
    assert st.x[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert st.x[:, 1].tolist() == pytest.approx([-math.sqrt(1.5), 0.0, math.sqrt(1.5)])
