"""Bad scenario files: each mistake gets one clear line naming the file, the key and the problem.

Every test writes a real file under ``tmp_path`` and loads it the way ``mlp-tui check``
does (``load`` then ``build``), so errors found while validating the TOML and errors found
while reading data (a CSV) are held to the same standard.
"""

from __future__ import annotations

import importlib
import resource
from pathlib import Path

import pytest

from mlp_tui.scenarios import ScenarioError, build, load
from mlp_tui.scenarios.spec import MAX_CSV_BYTES

GOOD = """
[scenario]
title = "A good scenario"

[data]
kind = "moons"
samples = 40

[model]
hidden = [4]
"""


def case_id(value: object) -> str | None:
    """A readable test id: the last line of a TOML or CSV snippet, or the value itself."""
    if isinstance(value, str):
        lines = [line for line in value.splitlines() if line.strip()]
        return lines[-1][:40] if lines else "empty"
    return None


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problem(path: Path) -> ScenarioError:
    """The error ``mlp-tui check`` would print for this file (validate, then build)."""
    with pytest.raises(ScenarioError) as caught:
        build(load(path), history_bytes=0)
    err = caught.value
    line = str(err)
    assert "\n" not in line, f"one line, got: {line!r}"
    assert line.startswith(f"{path}: "), "the line starts with the file"
    assert "Traceback" not in line
    return err


def expect(path: Path, key: str, *fragments: str) -> str:
    err = problem(path)
    assert err.key == key, str(err)
    line = str(err)
    assert line.startswith(f"{path}: {key}: " if key else f"{path}: ")
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_a_good_file_loads_and_builds(tmp_path):
    built = build(load(write(tmp_path, GOOD, "good.toml")))
    assert built.spec.title == "A good scenario" and built.spec.name == "good"
    assert built.loss == "cross_entropy" and len(built.data.x) == 40


# ------------------------------------------------------------------------ the file itself


def test_missing_file(tmp_path):
    expect(tmp_path / "nowhere.toml", "", "no such file")


def test_not_valid_toml(tmp_path):
    path = write(tmp_path, '[data]\nkind = "moons\nsamples = 10\n')
    line = expect(path, "", "not valid TOML", "line 2")
    assert line.count(str(path)) == 1


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[scenario]\ntitle = "caf\xe9"\n[data]\nkind = "moons"\n')
    expect(path, "", "cannot read")


def test_data_section_is_required(tmp_path):
    expect(write(tmp_path, '[scenario]\ntitle = "x"\n'), "data", "[data] is required")


# ------------------------------------------------------------------------ unknown names


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ('[data]\nkind = "moons"\n[trainig]\nsteps = 5\n', "trainig", "'training'"),
        (
            '[data]\nkind = "moons"\n[model]\nactivaton = "relu"\n',
            "model.activaton",
            "'activation'",
        ),
        ('[data]\nkind = "moons"\nsamles = 10\n', "data.samles", "'samples'"),
        ('[data]\nkind = "moon"\n', "data.kind", "'moons'"),
        ('[data]\nkind = "moons"\n[model]\nactivation = "rellu"\n', "model.activation", "'relu'"),
        ('[data]\nkind = "moons"\n[model]\ninit = "xavir"\n', "model.init", "'xavier'"),
        ('[data]\nkind = "moons"\n[optimizer]\nkind = "adm"\n', "optimizer.kind", "'adam'"),
        (
            '[data]\nkind = "moons"\n[optimizer]\nlearning_rate = 0.1\n',
            "optimizer.learning_rate",
            "",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nmomentun = 0.9\n',
            "optimizer.momentun",
            "'momentum'",
        ),
        ('[data]\nkind = "moons"\n[loss]\nkind = "crossentropy"\n', "loss.kind", "'cross_entropy'"),
        ('[data]\nkind = "moons"\n[scenario]\ntitel = "x"\n', "scenario.titel", "'title'"),
        (
            '[data]\nkind = "moons"\n[[breakpoints]]\nwhen = "loss < 1"\nnotes = "x"\n',
            "breakpoints[0].notes",
            "'note'",
        ),
        pytest.param(
            '[data]\nkind = "moons"\n[[breakpoints]]\nphase = "backwards"\n',
            "breakpoints[0].phase",
            "'backward'",
        ),
    ],
    ids=case_id,
)
def test_unknown_names_get_a_did_you_mean(tmp_path, text, key, hint):
    line = expect(write(tmp_path, text), key)
    assert ("did you mean " + hint) in line if hint else "unknown key" in line
    assert "allowed:" in line or "must be one of" in line  # and the whole list to pick from


def test_a_key_of_another_kind_is_refused_with_the_reason(tmp_path):
    moons_with_csv_key = '[data]\nkind = "moons"\ntarget = "species"\n'
    expect(write(tmp_path, moons_with_csv_key), "data.target", "unknown key", "kind = 'moons'")
    sgd_with_adam_key = '[data]\nkind = "moons"\n[optimizer]\nkind = "sgd"\nbetas = [0.9, 0.99]\n'
    expect(write(tmp_path, sgd_with_adam_key), "optimizer.betas", "kind = 'sgd'")


def test_the_optimizers_own_keywords_are_the_allowed_keys(tmp_path):
    text = '[data]\nkind = "moons"\n[optimizer]\nkind = "adam"\nlr = 0.01\nbetas = [0.8, 0.9]\namsgrad = true\n'
    spec = load(write(tmp_path, text, "ok.toml"))
    assert spec.optimizer.options == {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True}


# ------------------------------------------------------------------------ wrong types


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            '[data]\nkind = "moons"\nsamples = "200"\n',
            "data.samples",
            "must be an integer, got a string '200'",
        ),
        (
            '[data]\nkind = "moons"\nsamples = 2.5\n',
            "data.samples",
            "must be an integer, got a number 2.5",
        ),
        (
            '[data]\nkind = "moons"\nsamples = true\n',
            "data.samples",
            "must be an integer, got true/false",
        ),
        ('[data]\nkind = "moons"\nnoise = "low"\n', "data.noise", "must be a number"),
        ("[data]\nkind = 3\n", "data.kind", "must be a string, got an integer 3"),
        ('[data]\nkind = "moons"\n[model]\nhidden = 16\n', "model.hidden", "list of layer widths"),
        (
            '[data]\nkind = "moons"\n[model]\nhidden = [16, "8"]\n',
            "model.hidden",
            "list of layer widths",
        ),
        (
            '[data]\nkind = "moons"\n[model]\nhidden = [16, 8.0]\n',
            "model.hidden",
            "list of layer widths",
        ),
        (
            '[data]\nkind = "moons"\n[training]\nzero_grad = "no"\n',
            "training.zero_grad",
            "must be true or false",
        ),
        ('[data]\nkind = "moons"\n[optimizer]\nlr = "fast"\n', "optimizer.lr", "must be a number"),
        (
            '[data]\nkind = "moons"\n[optimizer]\nkind = "sgd"\nnesterov = 1\n',
            "optimizer.nesterov",
            "true or false",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nkind = "adam"\nbetas = 0.9\n',
            "optimizer.betas",
            "two numbers",
        ),
        ('[data]\nkind = "moons"\n[scenario]\ntitle = 3\n', "scenario.title", "must be a string"),
        (
            '[data]\nkind = "moons"\n[scenario]\norder = "first"\n',
            "scenario.order",
            "must be an integer",
        ),
        ('data = "moons"\n', "data", "must be a table"),
        (
            '[data]\nkind = "moons"\n[breakpoints]\nwhen = "loss < 1"\n',
            "breakpoints",
            "array of tables",
        ),
        (
            '[data]\nkind = "csv"\npath = "x.csv"\ntarget = "y"\nfeatures = "a"\n',
            "data.features",
            "list of column names",
        ),
    ],
    ids=case_id,
)
def test_wrong_types_say_what_was_expected_and_what_was_found(tmp_path, text, key, fragment):
    expect(write(tmp_path, text), key, fragment)


# ------------------------------------------------------------------------ ranges


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[data]\nkind = "moons"\nsamples = -5\n', "data.samples", "from 1 to 1,000,000, got -5"),
        ('[data]\nkind = "moons"\nsamples = 0\n', "data.samples", "got 0"),
        ('[data]\nkind = "moons"\nnoise = -0.1\n', "data.noise", "finite number >= 0, got -0.1"),
        ('[data]\nkind = "moons"\nnoise = nan\n', "data.noise", "finite number >= 0, got nan"),
        ('[data]\nkind = "moons"\nseed = -1\n', "data.seed", ">= 0"),
        ('[data]\nkind = "spiral"\nclasses = 1\n', "data.classes", "from 2 to 100"),
        ('[data]\nkind = "moons"\n[model]\nhidden = [16, -1]\n', "model.hidden", "from 1 to 8192"),
        ('[data]\nkind = "moons"\n[model]\nhidden = [0]\n', "model.hidden", "from 1 to 8192"),
        (
            '[data]\nkind = "moons"\n[optimizer]\nlr = -0.1\n',
            "optimizer.lr",
            "finite number >= 0, got -0.1",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nlr = inf\n',
            "optimizer.lr",
            "finite number >= 0, got inf",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nmomentum = 1.5\n',
            "optimizer.momentum",
            "between 0 and 1",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nkind = "rmsprop"\nalpha = 2\n',
            "optimizer.alpha",
            "between 0 and 1",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nkind = "adam"\nbetas = [0.9, 1.0]\n',
            "optimizer.betas",
            "[0, 1)",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nweight_decay = -1\n',
            "optimizer.weight_decay",
            ">= 0",
        ),
        (
            '[data]\nkind = "moons"\n[optimizer]\nnesterov = true\n',
            "optimizer.nesterov",
            "momentum > 0",
        ),
        ('[data]\nkind = "moons"\n[training]\nsteps = 0\n', "training.steps", "got 0"),
        (
            '[data]\nkind = "moons"\n[training]\nbatch_size = -1\n',
            "training.batch_size",
            ">= 0, got -1",
        ),
        ('[data]\nkind = "moons"\n[training]\nseed = -3\n', "training.seed", ">= 0"),
        ('[data]\nkind = "moons"\n[scenario]\norder = -1\n', "scenario.order", ">= 0"),
    ],
    ids=case_id,
)
def test_negative_and_out_of_range_values_are_refused(tmp_path, text, key, fragment):
    expect(write(tmp_path, text), key, fragment)


def test_a_loss_that_does_not_fit_the_data(tmp_path):
    mse_on_classes = '[data]\nkind = "moons"\n[loss]\nkind = "mse"\n'
    expect(write(tmp_path, mse_on_classes), "loss.kind", "mse needs a numeric target")
    ce_on_numbers = '[data]\nkind = "sine"\n[loss]\nkind = "cross_entropy"\n'
    expect(write(tmp_path, ce_on_numbers), "loss.kind", "needs classes")
    bce_on_three = '[data]\nkind = "spiral"\nclasses = 3\n[loss]\nkind = "bce"\n'
    expect(write(tmp_path, bce_on_three), "loss.kind", "bce needs 2 classes, the data has 3")


# ------------------------------------------------------------------------ limits: fail fast


def test_too_many_layers_or_too_wide_is_refused_while_reading(tmp_path):
    many = "[data]\nkind = 'moons'\n[model]\nhidden = [" + ", ".join(["4"] * 201) + "]\n"
    expect(write(tmp_path, many), "model.hidden", "at most 200 layers")
    wide = "[data]\nkind = 'moons'\n[model]\nhidden = [8193]\n"
    expect(write(tmp_path, wide), "model.hidden", "from 1 to 8192")
    samples = "[data]\nkind = 'moons'\nsamples = 1000001\n"
    expect(write(tmp_path, samples), "data.samples", "from 1 to 1,000,000")


def test_a_huge_model_on_the_largest_generated_data_fails_fast(tmp_path):
    """200 layers of 8192 is 13 billion parameters (53 GB): refused, never allocated."""
    hidden = ", ".join(["8192"] * 200)
    text = f"[data]\nkind = 'moons'\nsamples = 1000000\n[model]\nhidden = [{hidden}]\n"
    path = write(tmp_path, text)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    expect(path, "model.hidden", "13,356,326,913 parameters", "20,000,000")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    # Refused before the million samples (or any weight) were made.
    assert grown < 64 * 1024, f"peak memory grew by {grown // 1024} MiB"


def test_a_huge_model_on_a_wide_csv_fails_fast(tmp_path):
    header = ",".join(f"f{i}" for i in range(8192)) + ",label"
    rows = [",".join(["1"] * 8192) + ",a", ",".join(["2"] * 8192) + ",b"]
    (tmp_path / "wide.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    hidden = ", ".join(["8192"] * 200)
    text = (
        f"[data]\nkind = 'csv'\npath = 'wide.csv'\ntarget = 'label'\n[model]\nhidden = [{hidden}]\n"
    )
    expect(write(tmp_path, text), "model.hidden", "parameters is more than")


def test_a_csv_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(MAX_CSV_BYTES + 2**20)  # sparse: large on paper, nothing written
    text = "[data]\nkind = 'csv'\npath = 'big.csv'\ntarget = 'y'\n"
    with pytest.raises(ScenarioError) as caught:
        load(write(tmp_path, text))  # validating alone refuses it
    assert caught.value.key == "data.path"
    assert "201 MiB; the limit is 200 MiB" in str(caught.value)


# ------------------------------------------------------------------------ CSV data


def csv_scenario(tmp_path: Path, csv_text: str | None, extra: str = "", target: str = "y") -> Path:
    """A scenario in tmp_path/lessons/ that reads ../data/d.csv (relative to itself)."""
    if csv_text is not None:
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "d.csv").write_text(csv_text, encoding="utf-8")
    text = f"[data]\nkind = 'csv'\npath = '../data/d.csv'\ntarget = '{target}'\n{extra}"
    return write(tmp_path, text, "lessons/s.toml")


def test_csv_path_is_relative_to_the_scenario_file_not_the_working_folder(tmp_path, monkeypatch):
    path = csv_scenario(tmp_path, "a,b,y\n1,2,cat\n3,4,dog\n5,6,cat\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    built = build(load(path))
    assert built.spec.data.path == (tmp_path / "data" / "d.csv").resolve()
    assert built.data.class_names == ("cat", "dog") and built.data.x.shape == (3, 2)


def test_missing_csv_names_the_resolved_path(tmp_path):
    path = csv_scenario(tmp_path, None)
    line = expect(path, "data.path", "no such file", str((tmp_path / "data" / "d.csv").resolve()))
    assert line.count("\n") == 0


@pytest.mark.parametrize(
    ("csv_text", "key", "fragment"),
    [
        ("a,b,y\n1,2,cat\n3,cat\n", "data.path", "row 3: expected 3 fields, got 2"),
        ("a,b,y\n1,2,cat\n3,x,dog\n", "data.path", "row 3, column 'b': not a number: 'x'"),
        (
            "a,b,y\n1,nan,cat\n3,4,dog\n",
            "data.path",
            "row 2, column 'b': not a finite number: 'nan'",
        ),
        ("a,b,y\n1,inf,cat\n3,4,dog\n", "data.path", "not a finite number: 'inf'"),
        ("a,b,y\n1,,cat\n3,4,dog\n", "data.path", "row 2, column 'b': empty value"),
        ("a,b,y\n1,1e39,cat\n3,4,dog\n", "data.path", "too large for float32"),
        ("", "data.path", "empty file"),
        ("a,b,y\n", "data.path", "no data rows"),
        ("a,b,label\n1,2,cat\n3,4,dog\n", "data.target", "no column 'y'"),
        ("a,b,y\n1,2,cat\n3,4,cat\n", "data.target", "single class"),
    ],
    ids=case_id,
)
def test_malformed_csv(tmp_path, csv_text, key, fragment):
    expect(csv_scenario(tmp_path, csv_text), key, fragment)


def test_csv_target_typo_gets_a_did_you_mean(tmp_path):
    path = csv_scenario(tmp_path, "a,b,species\n1,2,x\n3,4,z\n", target="specis")
    expect(path, "data.target", "no column 'specis'", "did you mean 'species'?")


def test_csv_feature_typo_gets_a_did_you_mean(tmp_path):
    extra = "features = ['a', 'bb']\n"
    path = csv_scenario(tmp_path, "a,b,y\n1,2,x\n3,4,z\n", extra=extra)
    expect(path, "data.features", "no column 'bb'", "did you mean 'b'?")


# ------------------------------------------------------------------------ breakpoints


@pytest.mark.parametrize(
    ("bp", "key", "fragment"),
    [
        ('when = "loss <"', "breakpoints[0].when", "cannot read condition 'loss <'"),
        ('when = "loss"', "breakpoints[0].when", "write `metric op number`"),
        ("when = \"__import__('os') < 1\"", "breakpoints[0].when", "cannot read condition"),
        ('when = "loss < 0.1; rm -rf /"', "breakpoints[0].when", "cannot read condition"),
        ('when = "loss < one"', "breakpoints[0].when", "cannot read condition"),
        ('when = "los < 0.1"', "breakpoints[0].when", "unknown metric 'los'"),
        ('when = "grad_norm > 1"', "breakpoints[0].when", "needs a name after a dot"),
        (
            'when = "grad_norm.W9 > 1"',
            "breakpoints[0].when",
            "unknown metric 'grad_norm.W9' for this model",
        ),
        ('when = "dead_fraction.h1 > 0.5"', "breakpoints[0].when", "for this model"),
        ("when = 0.5", "breakpoints[0].when", "must be a string"),
        pytest.param(
            'note = "only a note"',
            "breakpoints[0]",
            "needs at least one of step, phase, when, nonfinite",
        ),
        ("step = 0", "breakpoints[0].step", ">= 1, got 0"),
        ('step = "1"', "breakpoints[0].step", "must be an integer"),
        pytest.param(
            'phase = "forwards"',
            "breakpoints[0].phase",
            "did you mean 'forward'?",
        ),
        ('nonfinite = "yes"', "breakpoints[0].nonfinite", "true or false"),
    ],
    ids=case_id,
)
def test_breakpoint_garbage(tmp_path, bp, key, fragment):
    text = f"[data]\nkind = 'moons'\n[model]\nhidden = [4]\n[[breakpoints]]\n{bp}\n"
    expect(write(tmp_path, text), key, fragment)


def test_the_second_breakpoint_is_named_by_its_index(tmp_path):
    text = "[data]\nkind = 'moons'\n[[breakpoints]]\nstep = 1\n[[breakpoints]]\nwhen = 'loss <'\n"
    expect(write(tmp_path, text), "breakpoints[1].when", "cannot read")


def test_accuracy_is_not_a_metric_of_a_regression(tmp_path):
    text = "[data]\nkind = 'sine'\n[[breakpoints]]\nwhen = 'accuracy > 0.5'\n"
    expect(write(tmp_path, text), "breakpoints[0].when", "unknown metric 'accuracy' for this model")


def test_every_metric_the_reference_lists_is_accepted(tmp_path):
    """docs/scenarios.md's metric table, for a 2 → 4 → 2 classifier: every name loads."""
    params = ["W0", "b0", "W1", "b1"]
    names = ["loss", "step", "accuracy", "dead_fraction.h0"] + [
        f"{family}.{p}" for family in ("grad_norm", "delta_norm", "update_ratio") for p in params
    ]
    for i, name in enumerate(names):
        for op in ("<", "<=", ">", ">=", "==", "!="):
            text = f"[data]\nkind = 'xor'\n[model]\nhidden = [4]\n[[breakpoints]]\nwhen = '{name} {op} 1e-3'\n"
            spec = load(write(tmp_path, text, f"m{i}.toml"))
            assert str(spec.breakpoints[0].condition) == f"{name} {op} 0.001"


# ------------------------------------------------------------------------ the starter (mlp-tui new)


def test_the_starter_adds_toml_and_passes_validation(tmp_path):
    from mlp_tui.scenarios.template import write_template

    path = write_template(tmp_path / "my_first")
    assert path == tmp_path / "my_first.toml" and path.is_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# my_first:") and "docs/scenarios.md" in text
    built = build(load(path), history_bytes=0)
    assert built.spec.title == "my first" and built.spec.lesson and built.spec.breakpoints
    assert built.spec.data.kind == "moons" and built.spec.model.hidden == (16, 16)


def test_the_starter_never_overwrites(tmp_path):
    from mlp_tui.scenarios.template import write_template

    existing = write(tmp_path, "# mine\n", "mine.toml")
    for name in ("mine", "mine.toml"):
        with pytest.raises(ScenarioError) as caught:
            write_template(tmp_path / name)
        assert caught.value.key == "" and str(caught.value) == f"{existing}: already exists"
    assert existing.read_text(encoding="utf-8") == "# mine\n"


def test_the_starter_with_an_awkward_name_is_still_valid_toml(tmp_path):
    from mlp_tui.scenarios.template import write_template

    path = write_template(tmp_path / 'say "hi"\\now')
    assert load(path).title == 'say "hi"\\now'


def test_a_regression_csv_refuses_an_accuracy_breakpoint(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,t\n1,2,0.5\n3,4,1.5\n5,6,2.5\n")
    text = (
        "[data]\nkind = 'csv'\npath = 'd.csv'\ntarget = 't'\n"
        "[[breakpoints]]\nwhen = 'accuracy > 0.5'\n"
    )
    expect(write(tmp_path, text), "breakpoints[0].when", "unknown metric 'accuracy'")


def test_a_too_large_model_is_refused_before_the_data_is_read(tmp_path):
    # The CSV names no column 'label': reading it would fail on data.target. The model's
    # size is refused first, so nothing was read or allocated.
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    text = (
        "[data]\nkind = 'csv'\npath = 'd.csv'\ntarget = 'label'\n[model]\nhidden = [8192, 8192]\n"
    )
    expect(write(tmp_path, text), "model.hidden", "parameters is more than")


def test_a_too_large_csv_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    build_module = importlib.import_module("mlp_tui.scenarios.build")
    monkeypatch.setattr(build_module, "MAX_DATA_VALUES", 100)  # stand-in for a file of gigabytes
    rows = "".join(f"{i},{i},{i}\n" for i in range(50)) + "not,a,number\n"
    (tmp_path / "d.csv").write_text("a,b,t\n" + rows)
    text = "[data]\nkind = 'csv'\npath = 'd.csv'\ntarget = 't'\n"
    # 51 rows × 3 columns counted from the raw lines; the bad last row was never parsed.
    expect(write(tmp_path, text), "data", "values is more than 100")
