"""Bad input, one case each: the exact message (or the exact behaviour) a user gets.

Issue 13: every rejected input is one clear message naming the file and line or the
option, and what to do.  The classes handled well before the issue are here too, so
they stay so.  Security cases (confinement, secrets, escapes, hangs) are in
``test_hostile_input.py``.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

HEAD = """\
task: bad
prompt: "Posting: {posting}"
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
"""
CASE = "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n"
"""One good case (lines 5 to 7 after HEAD)."""

# name -> (text of evals/bad.yaml, the exact lines of the message after the head line)
CASE_FILES: dict[str, tuple[str | bytes, list[str]]] = {
    # -- handled well before issue 13: they stay so
    "yaml-syntax": (
        HEAD + "  - id: A\n    expected: {verdict: PASS\n    vars: {posting: x}\n",
        [
            "bad.yaml:6: YAML syntax error: while parsing a flow mapping: "
            "did not find expected ',' or '}' (at line 7)"
        ],
    ),
    "wrong-type": (
        HEAD + "  - id: 7\n    expected: {verdict: PASS}\n    vars: {posting: x}\n",
        ["bad.yaml:5: cases[0].id: expected string, got int 7"],
    ),
    "unknown-top-level-key": (
        HEAD.replace("prompt:", "promt:") + CASE,
        [
            "bad.yaml:1: prompt: missing required key",
            "bad.yaml:2: promt: unknown key; did you mean 'prompt'?",
        ],
    ),
    "duplicate-key": (
        HEAD + "  - id: A\n    id: B\n    expected: {verdict: PASS}\n    vars: {posting: x}\n",
        ["bad.yaml:6: cases[0].id: duplicate key 'id' (first at line 5)"],
    ),
    "duplicate-id": (
        HEAD + CASE + CASE,
        ["bad.yaml:8: cases[1].id: duplicate id 'A' (first at line 5)"],
    ),
    "missing-file": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: {file: nope.txt}}\n",
        ["bad.yaml:7: cases[0].vars.posting.file: file not found: nope.txt (*/evals/nope.txt)"],
    ),
    "bad-regex": (
        "task: bad\nprompt: x\ncases:\n  - id: A\n    expected: {regex: '(unclosed'}\n",
        [
            "bad.yaml:5: cases[0].expected.regex: invalid regular expression: "
            "missing ), unterminated subpattern at position 0"
        ],
    ),
    "bad-json-schema": (
        "task: bad\nprompt: x\noutput: {kind: json, schema: {type: objekt}}\n"
        "cases:\n  - id: A\n    expected: {json: {a: 1}}\n",
        ["bad.yaml:3: output.schema: not a valid JSON Schema: 'objekt' is not valid under *"],
    ),
    "label-not-in-labels": (
        HEAD + "  - id: A\n    expected: {verdict: MAYBE}\n    vars: {posting: x}\n",
        ["bad.yaml:6: cases[0].expected.verdict: label 'MAYBE' is not in labels [PASS, FAIL]"],
    ),
    "python-tag-refused": (
        HEAD + "  - id: !!python/object/apply:os.system ['echo owned']\n"
        "    expected: {verdict: PASS}\n    vars: {posting: x}\n",
        [
            "bad.yaml:5: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' refused: "
            "case files are plain YAML data (text, numbers, lists, mappings)"
        ],
    ),
    "missing-keys": (
        "task: bad\n",
        ["bad.yaml:1: cases: missing required key", "bad.yaml:1: prompt: missing required key"],
    ),
    "reserved-tag": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: x}\n"
        "    tags: [skip]\n",
        ["bad.yaml:8: cases[0].tags: tag 'skip' is a reserved marker name"],
    ),
    "weights-not-adding-up": (
        HEAD.replace("cases:", "ranking: {policy: weighted, quality: 0.8, speed: 0.5}\ncases:")
        + CASE,
        ["bad.yaml:4: ranking: the weights must add up to 1: quality 0.8 + speed 0.5 = 1.3"],
    ),
    # -- issue 13, part 5: accepted silently before
    "unknown-key-hides-nothing": (
        HEAD
        + "  - id: A\n    expected: {verdict: MAYBE}\n    vars: {posting: x}\n    wyh: t\n"
        + CASE,
        [
            "bad.yaml:6: cases[0].expected.verdict: label 'MAYBE' is not in labels [PASS, FAIL]",
            "bad.yaml:8: cases[0].wyh: unknown key; did you mean 'why'?",
            "bad.yaml:9: cases[1].id: duplicate id 'A' (first at line 5)",
        ],
    ),
    "labels-equal-up-to-case": (
        HEAD.replace("[PASS, FAIL]", "[pass, PASS]") + CASE,
        [
            "bad.yaml:3: output.labels: labels 'pass' and 'PASS' are the same up to case "
            "(answers are read ignoring case); give each label a different name"
        ],
    ),
    "temperature-nan": (
        HEAD.replace("cases:", "options: {temperature: .nan}\ncases:") + CASE,
        ["bad.yaml:4: options.temperature: nan is not a finite number; give a plain number"],
    ),
    "top-p-inf": (
        HEAD.replace("cases:", "options: {top_p: .inf}\ncases:") + CASE,
        ["bad.yaml:4: options.top_p: inf is greater than the maximum of 1"],
    ),
    "repeat-bound": (
        HEAD.replace("cases:", "repeat: 1000000\ncases:") + CASE,
        ["bad.yaml:4: repeat: 1000000 is greater than the maximum of 1000"],
    ),
    "placeholder-attribute": (
        HEAD.replace("{posting}", "{posting.__class__}") + CASE,
        [
            "bad.yaml:2: prompt: placeholder {posting.__class__} is not a plain name: templates "
            "fill {name} only (no attribute, index or format spec); write {{ and }} for "
            "literal braces"
        ],
    ),
    "placeholder-index": (
        HEAD.replace("{posting}", "{posting} {posting[0]}") + CASE,
        [
            "bad.yaml:2: prompt: placeholder {posting[0]} is not a plain name: templates "
            "fill {name} only (no attribute, index or format spec); write {{ and }} for "
            "literal braces"
        ],
    ),
    "placeholder-format-spec": (
        HEAD.replace("{posting}", "{posting} {posting:>99999999}") + CASE,
        [
            "bad.yaml:2: prompt: placeholder {posting:>99999999} is not a plain name: templates "
            "fill {name} only (no attribute, index or format spec); write {{ and }} for "
            "literal braces"
        ],
    ),
    "not-utf8": (
        (HEAD + CASE).replace("x}", "caf\xe9}").encode("latin-1"),
        ["bad.yaml:7: not UTF-8 text (byte 0xe9 at offset 155); save the file as UTF-8"],
    ),
    "file-reference-in-utf-16": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: {file: utf16.txt}}\n",
        [
            "bad.yaml:7: cases[0].vars.posting.file: cannot read utf16.txt: not UTF-8 text (it "
            "looks like UTF-16: byte order mark FF FE); save it as UTF-8"
        ],
    ),
    "file-is-a-directory": (
        HEAD + "  - id: A\n    expected: {verdict: PASS}\n    vars: {posting: {file: .}}\n",
        ["bad.yaml:7: cases[0].vars.posting.file: refused to read .: */evals is a directory"],
    ),
}


# -- issue 13: a UTF-16 or UTF-32 case file was skipped without a word.
# name -> (codec, byte order mark written first, what the message says the file looks like)
ENCODINGS: dict[str, tuple[str, bytes, str]] = {
    "utf-16-with-bom": ("utf-16-le", b"\xff\xfe", "UTF-16: byte order mark FF FE"),
    "utf-16-big-endian-with-bom": ("utf-16-be", b"\xfe\xff", "UTF-16: byte order mark FE FF"),
    "utf-16-without-bom": (
        "utf-16-le",
        b"",
        "UTF-16LE without a byte order mark: every other byte is 0",
    ),
    "utf-16-big-endian-without-bom": (
        "utf-16-be",
        b"",
        "UTF-16BE without a byte order mark: every other byte is 0",
    ),
    "utf-32-with-bom": ("utf-32-le", b"\xff\xfe\0\0", "UTF-32: byte order mark FF FE 00 00"),
    "utf-32-without-bom": (
        "utf-32-be",
        b"",
        "UTF-32BE without a byte order mark: three bytes in four are 0",
    ),
}
CASE_FILES.update(
    (
        name,
        (
            bom + (HEAD + CASE).encode(codec),
            [f"bad.yaml:1: not UTF-8 text (it looks like {what}); save the file as UTF-8"],
        ),
    )
    for name, (codec, bom, what) in ENCODINGS.items()
)


def _exact(line: str) -> str:
    """An fnmatch pattern matching ``line`` itself (``*`` stays a wildcard)."""
    return line.replace("[", "[[]").replace("?", "[?]")


@pytest.mark.parametrize("kind", list(CASE_FILES))
def test_bad_case_file(suite: pytest.Pytester, kind: str) -> None:
    text, lines = CASE_FILES[kind]
    (suite.path / "evals" / "utf16.txt").write_bytes("GOOD posting".encode("utf-16"))
    target = suite.path / "evals" / "bad.yaml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, "utf-8")
    result = suite.runpytest("evals", "--llm-models=fake/right", "--collect-only")
    head = "invalid case file evals/bad.yaml"
    if len(lines) > 1:
        head += f" ({len(lines)} problems)"
    result.stdout.fnmatch_lines([head, *(_exact(f"  evals/{line}") for line in lines)])
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "Traceback" not in result.stdout.str()


def test_a_utf8_byte_order_mark_is_dropped_and_the_file_read_as_usual(
    suite: pytest.Pytester,
) -> None:
    grading = suite.path / "evals" / "grading.yaml"
    grading.write_bytes(b"\xef\xbb\xbf" + grading.read_bytes())  # "task:" on line 1, after it
    (suite.path / "evals" / "posting.txt").write_bytes("\ufeffGOOD posting".encode())
    bom = (
        "\ufefftask: bom\nprompt: '{posting}'\noutput: {kind: verdict, labels: [PASS, FAIL]}\n"
        "cases:\n  - id: A\n    expected: {verdict: PASS}\n"
        "    vars: {posting: {file: posting.txt}}\n"
    )
    (suite.path / "evals" / "bom.yaml").write_bytes(bom.encode())
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-json=out.json")
    result.assert_outcomes(passed=3)
    doc = json.loads((suite.path / "out.json").read_text())
    assert sorted(doc["tasks"]) == ["bom", "grading"]


def test_yaml_files_that_are_no_case_files_stay_ignored_in_any_encoding(
    suite: pytest.Pytester,
) -> None:
    """A file is a case file when its text, read as what it looks like (UTF-8, UTF-16,
    UTF-32), has a top-level ``task:`` key; no other YAML file is ever an error."""
    evals = suite.path / "evals"
    (evals / "config.yaml").write_bytes("name: ci\nsteps: [lint]\n".encode("utf-16"))
    (evals / "settings.yml").write_bytes("name: ci\nsteps: [lint]\n".encode("utf-16-le"))
    (evals / "latin.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    result = suite.runpytest("evals", "--llm-models=fake/right")
    result.assert_outcomes(passed=2)
    assert "not UTF-8" not in result.stdout.str()


def test_an_output_path_on_a_utf16_case_file_is_refused(suite: pytest.Pytester) -> None:
    """Told as collection tells it: the file's gold cases are never overwritten."""
    target = suite.path / "evals" / "wide.yaml"
    target.write_bytes((HEAD + CASE).encode("utf-16"))
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-json=evals/wide.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --llm-json evals/wide.yaml: is a case file; writing there would destroy "
            "its gold cases; name another file"
        ]
    )
    assert target.read_bytes() == (HEAD + CASE).encode("utf-16")


def test_duplicate_task_names_across_files(suite: pytest.Pytester) -> None:
    grading = (suite.path / "evals" / "grading.yaml").read_text()
    (suite.path / "evals" / "zz_copy.yaml").write_text(grading)
    result = suite.runpytest("evals", "--llm-models=fake/right", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "invalid case file evals/zz_copy.yaml",
            "  evals/zz_copy.yaml:1: task: task 'grading' is already defined in "
            "evals/grading.yaml; rename one of them",
        ]
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "foreign",
            "ERROR: --llm-history: */other.db is another program's SQLite database (tables: "
            "users), not a pytest-llmbench history; it is left untouched: give --llm-history "
            "a new file",
        ),
        (
            "text",
            "ERROR: --llm-history: cannot use history */other.db: file is not a database",
        ),
        (
            "newer",
            "ERROR: --llm-history: history */other.db has schema version 99, this "
            "pytest-llmbench reads up to *: upgrade pytest-llmbench",
        ),
    ],
)
def test_history_that_is_not_ours(suite: pytest.Pytester, content: str, message: str) -> None:
    path = suite.path / "other.db"
    if content == "text":
        path.write_text("not a database at all\n" * 100)
    else:
        with sqlite3.connect(path) as db:
            if content == "foreign":
                db.execute("CREATE TABLE users (id INTEGER)")
            else:
                db.execute("PRAGMA user_version = 99")
    before = path.read_bytes()
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-history=other.db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert path.read_bytes() == before


# -- scoring and wording --------------------------------------------------------------------

NEGATED_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {
        "negates": lambda request: "This does not PASS.",
        "not-a": lambda request: "It is not a PASS, sorry.",
        "routine": lambda request: "ROUTINE",
    }))
"""


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "negates",
            "unparseable: expected PASS, got This does not PASS. "
            "(negated verdict 'not PASS': the answer must state one label)",
        ),
        (
            "not-a",
            "unparseable: expected PASS, got It is not a PASS, sorry. "
            "(negated verdict 'not a PASS': the answer must state one label)",
        ),
    ],
)
def test_negated_verdict_is_unparseable_not_pass(
    pytester: pytest.Pytester, model: str, message: str
) -> None:
    pytester.makeconftest(NEGATED_CONFTEST)
    (pytester.path / "t.yaml").write_text(HEAD + CASE)
    result = pytester.runpytest(f"--llm-models=fake/{model}", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([_exact(message)])


def test_labels_that_are_no_pass_fail_pair_name_what_was_said(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(NEGATED_CONFTEST)
    (pytester.path / "t.yaml").write_text(
        "task: triage\nprompt: x\noutput: {kind: verdict, labels: [ROUTINE, URGENT]}\n"
        "cases:\n  - id: FIRE\n    expected: {verdict: URGENT}\n"
    )
    result = pytester.runpytest("--llm-models=fake/routine", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "said ROUTINE for URGENT: expected URGENT, got ROUTINE (expected URGENT, said ROUTINE)",
            "  fake/routine (0/1): said ROUTINE for URGENT on FIRE",
        ]
    )
    assert "too strict" not in result.stdout.str()


def test_cache_miss_is_no_wrong_answer(suite: pytest.Pytester) -> None:
    (suite.path / "evals" / "grading.yaml").write_text(
        "task: text\nprompt: '{n}'\ncases:\n  - id: STORED\n    expected: {contains: [x]}\n"
        "    vars: {n: '1'}\n  - id: MISS\n    expected: {contains: [x]}\n    vars: {n: '2'}\n"
    )
    suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=write", "-k", "STORED")
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-cache=read", "-k", "MISS")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "call error, not a wrong answer: not in the response cache (--llm-cache=read); "
            "record it with --llm-cache=write or readwrite"
        ]
    )
    assert not any(line.startswith("wrong answer") for line in result.outlines)


def test_a_tie_shows_medians_that_differ_with_enough_digits() -> None:
    from pytest_llmbench.analysis.ranking import Tie

    assert (
        Tie("p/a", "p/b", 48.2, 47.9)
        .describe()
        .endswith("; p/b is faster on the median (47.9 vs 48.2 ms)")
    )


LOADING_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


class Loading(ScriptedProvider):
    def load(self, name):
        super().load(name)
        return {"right": 250.0}.get(name)  # 'embedded' was loaded already: no load time


def pytest_llmbench_register_providers(registry, config):
    registry.add(Loading("fake", {
        "right": lambda request: "PASS",
        "embedded": lambda request: "PASS",
    }, latency_s={"right": 0.005}))  # embedded is the faster: the champion in both tasks
"""


def test_load_ms_is_its_own_column_in_every_task_and_explained(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(LOADING_CONFTEST)
    (pytester.path / "a.yaml").write_text(HEAD.replace("bad", "first") + CASE)
    (pytester.path / "b.yaml").write_text(HEAD.replace("bad", "second") + CASE)
    result = pytester.runpytest(
        "--llm-models=fake/right,fake/embedded", "--llm-json=out.json", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=4)
    # the model is loaded once, before its first case (task first): both tables show it
    result.stdout.fnmatch_lines(
        [
            "task first (strict policy, 1 case)",
            "model * cold ms * load ms * tok/s  status",
            "fake/embedded * - * champion",
            "fake/right * 250 * runner-up",
            "task second (strict policy, 1 case)",
            "model * load ms * tok/s  status",
            "fake/embedded * - * champion",
            "fake/right * 250 * runner-up",
            "",
            "cold ms: the first answer after loading (not in mean, p50, p95); load ms: loading "
            "the model before its first case",
        ]
    )
    doc = json.loads((pytester.path / "out.json").read_text())
    for task in ("first", "second"):
        loads = {s["model"]: s["load_ms"] for s in doc["tasks"][task]["ranking"]}
        assert loads == {"fake/right": 250.0, "fake/embedded": None}


NO_DIFFICULTY = HEAD.replace("bad", "plain") + CASE
"""A task whose one case gives no difficulty (the grading task's cases are easy and hard)."""
DIFFICULTY_LINE = (
    "llmbench: 1 case(s) give no difficulty and are marked medium, the default (plain: 1)"
)


@pytest.mark.parametrize(
    ("args", "collected", "said"),
    [
        (("-m", "medium"), "1/3 tests collected (2 deselected)", True),  # still selected
        (("-m", "easy or hard"), "2/3 tests collected (1 deselected)", True),
        (("-v",), "3 tests collected", True),
        ((), "3 tests collected", False),  # not selecting by difficulty: nothing to say
    ],
)
def test_cases_without_difficulty_are_marked_medium_and_it_is_said(
    suite: pytest.Pytester, args: tuple[str, ...], collected: str, said: bool
) -> None:
    (suite.path / "evals" / "plain.yaml").write_text(NO_DIFFICULTY)
    result = suite.runpytest("evals", "--llm-models=fake/right", "--collect-only", *args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"*= {collected} in *"])
    assert (DIFFICULTY_LINE in result.stdout.lines) == said
    if args == ("-m", "medium"):
        assert "<CaseItem A[fake/right]>" in result.stdout.str()
