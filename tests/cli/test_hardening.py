"""Hostile or careless scenario input: one printable line per problem and exit status 2,
never a traceback, never an allocation the machine cannot hold.

Everything runs in-process (``cli.main`` with capsys): torch is loaded once for the module.
"""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from mlp_tui import cli
from mlp_tui.scenarios import builtin_names
from mlp_tui.scenarios.build import _csv_shape

ESC_TITLE = "\x1b]0;pwned\x07\x1b[2J"


def run_cli(capsys, *argv: str) -> tuple[int, str, list[str]]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def refused(capsys, *argv: str, count: int = 1) -> list[str]:
    """Exit 2, nothing on stdout, ``count`` printable lines on stderr, each naming a file."""
    status, out, lines = run_cli(capsys, *argv)
    assert status == cli.EXIT_BAD_INPUT, (out, lines)
    assert out == ""
    assert len(lines) == count, lines
    for line in lines:
        assert line.startswith("mlp-tui: ") and line.isprintable(), repr(line)
        assert "Traceback" not in line
    return lines


def write(folder: Path, text: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------ 2: too large for this machine


BIG = {
    "moons_8192": ("[data]\nkind='moons'\nsamples=1000000\n[model]\nhidden=[8192]\n", None),
    "moons_1024": ("[data]\nkind='moons'\nsamples=1000000\n[model]\nhidden=[1024]\n", None),
    "blobs_100": (
        "[data]\nkind='blobs'\nsamples=1000000\nclasses=100\n[model]\nhidden=[128,128,128]\n",
        None,
    ),
    "csv_60000_labels": (
        "[data]\nkind='csv'\npath='many.csv'\ntarget='label'\n",
        "x,label\n" + "".join(f"{i},c{i}\n" for i in range(60_000)),
    ),
}


@pytest.mark.parametrize("case", list(BIG))
def test_a_step_too_large_for_memory_is_refused_by_check_and_run(tmp_path, capsys, case):
    text, csv_text = BIG[case]
    if csv_text is not None:
        (tmp_path / "many.csv").write_text(csv_text, encoding="utf-8")
    path = write(tmp_path, text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    for command in ("check", "run"):
        (line,) = refused(capsys, command, str(path))
        key = "data.target" if case.startswith("csv") else "model.hidden"
        assert line.startswith(f"mlp-tui: {path}: {key}: "), line
        assert "GB" in line and "limit is" in line
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 256 * 1024, f"peak memory grew by {grown // 1024} MiB before refusing"


def test_every_built_in_scenario_still_passes_check(capsys):
    status, out, lines = run_cli(capsys, "check", *builtin_names())
    assert status == 0 and lines == []
    assert len(out.splitlines()) == len(builtin_names()) == 13


# ------------------------------------------------------------ 3: tracebacks → one line

GOOD = "[data]\nkind = 'xor'\nsamples = 8\n[model]\nhidden = [2]\n"


@pytest.mark.parametrize(
    "extra",
    [
        "[model]\nhidden = " + "[" * 5000 + "]" * 5000,
        "[scenario]\nx = " + "{a = " * 5000 + "1" + "}" * 5000,
        "[scenario]\nx = " + "[" * 200 + "]" * 200,  # parses, but deeper than any scenario
    ],
    ids=["arrays_5000_deep", "inline_tables_5000_deep", "arrays_200_deep"],
)
def test_deeply_nested_toml_is_one_line(tmp_path, capsys, extra):
    path = write(tmp_path, "[data]\nkind = 'xor'\n" + extra + "\n")
    (line,) = refused(capsys, "check", str(path))
    assert "nested" in line


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[data]\nkind = 'xor'\nsamples = " + "9" * 5000, "more than 4,300 digits"),
        ("[data]\nkind = 'xor'\nsamples = 0x" + "f" * 5000, "about 6,021 digits"),
        ("[data]\nkind = 'xor'\n[optimizer]\nlr = 0x" + "f" * 5000, "optimizer.lr"),
        ("[data]\nkind = 'xor'\n[model]\nhidden = [0x" + "f" * 5000 + "]", "model.hidden"),
        ("[data]\nkind = 'xor'\n[training]\nseed = 18446744073709551616", "training.seed"),
        ("[data]\nkind = 'xor'\nseed = 18446744073709551616", "data.seed"),
    ],
    ids=["decimal_5000_digits", "hex_samples", "hex_lr", "hex_width", "train_seed", "data_seed"],
)
def test_huge_integers_are_one_line(tmp_path, capsys, text, fragment):
    (line,) = refused(capsys, "check", str(write(tmp_path, text + "\n")))
    assert fragment in line and len(line) < 600, line


def test_the_largest_seed_is_accepted(tmp_path, capsys):
    text = GOOD.replace("samples = 8\n", "samples = 8\nseed = 18446744073709551615\n")
    text += "[training]\nseed = 18446744073709551615\n"
    status, _, lines = run_cli(capsys, "run", str(write(tmp_path, text)), "--steps", "2")
    assert status == 0 and lines == [], lines


def test_a_path_with_a_nul_byte_is_one_line(tmp_path, capsys):
    refused(capsys, "check", str(tmp_path / "a\0b.toml"))
    path = write(tmp_path, "[data]\nkind = 'csv'\npath = \"a\\u0000b.csv\"\ntarget = 'y'\n")
    (line,) = refused(capsys, "check", str(path))
    assert ": data.path: " in line and "NUL" in line


def test_a_path_too_long_for_the_file_system_is_one_line(tmp_path, capsys):
    (line,) = refused(capsys, "check", "a" * 5000 + ".toml")
    assert "File name too long" in line and len(line) < 600
    path = write(tmp_path, f"[data]\nkind = 'csv'\npath = '{'a' * 5000}.csv'\ntarget = 'y'\n")
    (line,) = refused(capsys, "run", str(path))
    assert ": data.path: " in line and "File name too long" in line


def test_a_csv_that_is_a_symlink_loop_is_one_line(tmp_path, capsys):
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    path = write(tmp_path, "[data]\nkind = 'csv'\npath = 'loop.csv'\ntarget = 'y'\n")
    (line,) = refused(capsys, "check", str(path))
    assert ": data.path: " in line and "symbolic links" in line


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc")
def test_a_csv_that_fails_on_read_is_one_line(tmp_path, capsys):
    """A real read error, even as root: /proc/self/mem is a regular file whose first page
    is unmapped, so reading it from offset 0 fails with EIO ("Input/output error")."""
    with pytest.raises(OSError):
        Path("/proc/self/mem").read_bytes()
    (tmp_path / "data.csv").symlink_to("/proc/self/mem")
    path = write(tmp_path, "[data]\nkind = 'csv'\npath = 'data.csv'\ntarget = 'y'\n")
    (line,) = refused(capsys, "check", str(path))
    assert ": data.path: " in line and "Input/output error" in line


@pytest.mark.parametrize("name", ["", ".", "..", "x" * 300], ids=["empty", "dot", "dotdot", "300"])
def test_new_with_an_unusable_name_is_one_line(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    refused(capsys, "new", name)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ 7: untrusted text stays inert


def test_a_key_with_a_newline_is_one_escaped_line(tmp_path, capsys):
    path = write(tmp_path, '[data]\nkind = "xor"\n"a\\nb" = 1\n"\\u001b[2J" = 2\n')
    lines = refused(capsys, "check", str(path), count=2)
    assert "data.a\\nb: unknown key" in lines[0]
    assert "data.\\x1b[2J: unknown key" in lines[1]


def test_escape_sequences_in_a_title_are_not_sent_to_the_terminal(tmp_path, capsys):
    title = ESC_TITLE.replace("\x1b", "\\u001b").replace("\x07", "\\u0007")  # TOML escapes
    text = f'[scenario]\ntitle = "{title}"\n' + GOOD
    text += '[[breakpoints]]\nstep = 1\nnote = "stop\\u001b[2J here"\n'
    path = write(tmp_path, text)
    status, out, lines = run_cli(capsys, "check", str(path))
    assert status == 0 and lines == []
    assert "\x1b" not in out and "\\x1b]0;pwned\\x07\\x1b[2J" in out
    status, out, lines = run_cli(capsys, "run", str(path), "--steps", "2")
    assert status == 0 and out.isascii() and "\x1b" not in out and "\x07" not in out
    assert out.startswith("\\x1b]0;pwned\\x07\\x1b[2J: 2 steps")
    assert "stop\\x1b[2J here" in out


def test_escape_sequences_in_a_path_are_not_sent_to_the_terminal(tmp_path, capsys):
    good = write(tmp_path, GOOD, "ok\x1b[2J.toml")
    status, out, _ = run_cli(capsys, "check", str(good))
    assert status == 0 and "\x1b" not in out and "ok\\x1b[2J.toml" in out
    (line,) = refused(capsys, "check", str(tmp_path / "gone\x1b]0;x\x07.toml"))
    assert "gone\\x1b]0;x\\x07.toml" in line


def test_the_escape_helper(capsys):
    assert cli.escape("plain ünïcode ✓") == "plain ünïcode ✓"
    assert cli.escape("a\nb\x1b[2J\x07\u202e") == "a\\nb\\x1b[2J\\x07\\u202e"


# ------------------------------------------------------------ 9: BOM, CR line endings


def test_a_utf8_bom_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    status, out, lines = run_cli(capsys, "check", str(path))
    assert status == 0 and lines == [] and out.startswith("ok  ")


def test_a_large_csv_with_cr_line_endings_is_read_by_its_lines(tmp_path, capsys):
    # 3,000 rows on one "line" used to be a header of 6,000 commas: an 8192-wide layer on
    # 6,001 inputs was refused as 49 million parameters.
    rows = "".join(f"{i % 7},{i % 5},{'ab'[i % 2]}\r" for i in range(3000))
    (tmp_path / "cr.csv").write_bytes(("a,b,y\r" + rows).encode())
    text = "[data]\nkind='csv'\npath='cr.csv'\ntarget='y'\n[model]\nhidden=[8192]\n"
    status, out, lines = run_cli(capsys, "check", str(write(tmp_path, text)))
    assert status == 0 and lines == [], lines
    assert "(3000 samples, 2-8192-2 net" in out


@pytest.mark.parametrize(
    "data, shape",
    [
        (b"a,b,y\n1,2,3\n4,5,6\n", (2, 3)),
        (b"a,b,y\r\n1,2,3\r\n4,5,6\r\n", (2, 3)),
        (b"a,b,y\r1,2,3\r4,5,6\r", (2, 3)),
        (b"a,b,y\r1,2,3\n4,5,6", (2, 3)),  # mixed, and no end to the last line
        (b"a,b", (0, 2)),
    ],
)
def test_csv_shape_counts_every_kind_of_line_end(tmp_path, data, shape):
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    assert _csv_shape(path) == shape


def test_csv_shape_counts_a_crlf_split_across_chunks_once(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,y\r\n" + b"x" * ((1 << 20) - 6) + b"\r\n1,2\r\n")  # \r ends chunk 1
    assert _csv_shape(path) == (2, 2)


# ------------------------------------------------------------ check reports every problem


SEVEN = """
[scenario]
titel = "typo"
[data]
kind = "moons"
samples = -5
noise = "lots"
[model]
hidden = [16, 0]
activation = "relux"
[optimizer]
lr = -1
[training]
steps = 0
"""


def test_check_reports_every_problem_in_a_file(tmp_path, capsys):
    path = write(tmp_path, SEVEN)
    lines = refused(capsys, "check", str(path), count=7)
    keys = [line.removeprefix(f"mlp-tui: {path}: ").split(":")[0] for line in lines]
    assert keys == [
        "scenario.titel",
        "data.samples",
        "data.noise",
        "model.hidden",
        "model.activation",
        "optimizer.lr",
        "training.steps",
    ]
    # run stops at the same problems, all of them listed too
    assert refused(capsys, "run", str(path), count=7) == lines


def test_check_goes_on_to_the_next_file(tmp_path, capsys):
    bad = write(tmp_path, SEVEN, "bad.toml")
    good = write(tmp_path, GOOD, "good.toml")
    status, out, lines = run_cli(capsys, "check", str(bad), str(good))
    assert status == 2 and len(lines) == 7 and out.startswith(f"ok  {good}: ")
