"""The package's layering, read from the source of every module with ``ast``.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``.

- Only ``plugin/`` imports pytest, ``_pytest``, xdist or pytest-benchmark.
- Imports go down the layer list (a module may import its own layer and lower ones):
  plugin, cli, service, optimize, router, reporting, storage, analysis, execution, selection,
  providers, cases, then the bottom layer: ``safety/`` (redaction, sanitising, file
  confinement, atomic writes) and ``formatting.py`` (``ms``, ``one_line``), which every
  layer may import and which import nothing else of the package but the leaf
  ``_version.py`` (``__version__``; it imports nothing of the package).
- ``pytest_llmbench/__init__.py`` (the lazy public names and ``__version__``) is the
  facade above every layer; no module of the package imports it.
- No import cycle among the package's modules, with no exemption: an import of
  ``a.b.c`` is an edge to ``a.b.c`` (Python runs the parent packages first, whatever
  they import, so those are no edges).
- ``analysis/`` and ``reporting/`` make no network call and run no process: they import
  no provider implementation, HTTP client, socket or ``subprocess``.

And heavy dependencies are imported when first needed: ``from pytest_llmbench import
best_model`` (production code) loads neither pytest, nor jsonschema, nor a provider SDK,
and a provider module loads its SDK only when the provider works.
"""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

PACKAGE = "pytest_llmbench"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

LAYERS = (
    "plugin",
    "cli",
    "service",
    "settings",
    "optimize",
    "router",
    "reporting",
    "storage",
    "analysis",
    "execution",
    "selection",
    "providers",
    "cases",
)
"""Top to bottom: a module imports from its own layer and the layers after it."""

BOTTOM = ("safety", "formatting")
"""The bottom layer, under ``cases``: every layer may import it; each of its parts imports
only itself and :data:`LEAF` (``safety`` does not import ``formatting`` nor the reverse)."""

LEAF = "_version"
"""Under everything: ``__version__``; imports nothing of the package."""

FACADES = ("",)
"""``pytest_llmbench`` itself: above every layer; no module of the package imports it."""

ORDER = f"{', '.join(LAYERS)}, then {' and '.join(BOTTOM)}, then {LEAF}"

PYTEST_ONLY_IN_PLUGIN = ("pytest", "_pytest", "xdist", "pytest_benchmark")

NO_NETWORK = ("analysis", "reporting")
NETWORK = (
    f"{PACKAGE}.providers.llamacpp",
    f"{PACKAGE}.providers.ollama",
    f"{PACKAGE}.providers.openai",
    f"{PACKAGE}.providers.wire",
    "llama_cpp",
    "ollama",
    "openai",
    "httpx",
    "http.client",
    "socket",
    "urllib.request",
    "subprocess",
)
"""What a module of ``NO_NETWORK`` must not import: provider implementations, HTTP
clients, sockets, processes."""


def module_name(path: Path, root: Path = ROOT) -> str:
    """``.../pytest_llmbench/storage/champions.py`` -> ``pytest_llmbench.storage.champions``."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    """``storage`` for ``pytest_llmbench.storage.champions``, ``cli`` for ``pytest_llmbench.cli``,
    ``""`` for the package itself."""
    return module.split(".")[1] if "." in module else ""


def public_names(root: Path = ROOT) -> dict[str, str]:
    """The lazy public names of ``pytest_llmbench/__init__.py``: name -> defining module."""
    tree = ast.parse((root / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "_PUBLIC"
            and node.value is not None
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return {str(k): str(v) for k, v in value.items()}
    return {}


def imports(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in ``source``, wherever it stands.

    ``from a import b`` yields ``a.b`` (``b`` may be a module; any rule that ``a`` breaks,
    ``a.b`` breaks too); a relative import is resolved against ``module``.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _target_layer(name: str) -> str | None:
    """The layer an imported name of this package lives in (``""`` for the package root,
    whatever name is taken from it); ``None`` for other packages."""
    if not _within(name, PACKAGE):
        return None
    rest = name.split(".")[1:]
    if rest and rest[0] in (*LAYERS, *BOTTOM, LEAF, *FACADES):
        return rest[0]
    return ""  # the package root: __version__, best_model, Router...


def _rank(layer_name: str) -> int:
    if layer_name in BOTTOM:
        return len(LAYERS)
    if layer_name == LEAF:
        return len(LAYERS) + 1
    return LAYERS.index(layer_name)


def problems(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every broken rule in one module's source, as ``line: what``."""
    own = layer(module)
    found: list[str] = []
    for line, name in imports(source, module, is_package):
        if own != "plugin" and any(_within(name, p) for p in PYTEST_ONLY_IN_PLUGIN):
            found.append(f"{line}: imports {name}: only plugin/ may import pytest or its plugins")
        if own in NO_NETWORK and any(_within(name, p) for p in NETWORK):
            found.append(
                f"{line}: imports {name}: {own}/ makes no network call and runs no process"
            )
        target = _target_layer(name)
        if target is None or target == own or own in FACADES:
            continue
        if target == "":
            found.append(
                f"{line}: imports {name}: the package root is the public facade, no module "
                f"of the package imports it (__version__ is in {PACKAGE}.{LEAF})"
            )
        elif own == LEAF:
            found.append(f"{line}: imports {name}: {LEAF} imports nothing of the package")
        elif own in BOTTOM and target != LEAF:
            found.append(
                f"{line}: imports {name}: {own} is the bottom layer, it imports nothing of "
                f"the package but {LEAF}"
            )
        elif _rank(target) < _rank(own):
            found.append(
                f"{line}: imports {name}: {own}/ is below {target}/ (imports only go down: {ORDER})"
            )
    return sorted(set(found), key=lambda p: (int(p.partition(":")[0]), p))


def check_file(path: Path, root: Path = ROOT) -> list[str]:
    """The problems of one file, each as ``path:line: what``."""
    module = module_name(path, root)
    source = path.read_text(encoding="utf-8")
    shown = path.relative_to(root.parent).as_posix()
    found = problems(source, module, is_package=path.name == "__init__.py")
    return [f"{shown}:{p}" for p in found]


def import_graph(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """module -> {imported module of the package: where (``path:line``, the first import)}.

    Every import counts (module level, in functions, under ``TYPE_CHECKING``); an imported
    name is the longest module it starts with (``from a.b import C`` is an edge to ``a.b``,
    ``from a import b`` to ``a.b`` when that is a module).
    """
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, dict[str, str]] = {}
    for module, path in paths.items():
        lines: dict[str, int] = {}
        source = path.read_text(encoding="utf-8")
        for line, name in imports(source, module, path.name == "__init__.py"):
            while name and name not in paths:
                name = name.rpartition(".")[0]
            if name and name != module:
                lines[name] = min(line, lines.get(name, line))
        shown = path.relative_to(root.parent).as_posix()
        graph[module] = {name: f"{shown}:{line}" for name, line in sorted(lines.items())}
    return graph


def import_groups(graph: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """Each group of modules that import each other (directly or not), sorted: the strongly
    connected components of the graph with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:  # recursion depth is bounded by the number of modules
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.get(module, {})):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(groups)


def shortest_cycle(group: Sequence[str], graph: Mapping[str, Mapping[str, str]]) -> list[str]:
    """A shortest cycle through the group's first module, as ``[a, b, c, a]``."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while start not in came_from:  # breadth first, inside the group, back to the start
        following = []
        for module in frontier:
            for other in sorted(graph[module]):
                if other in members and other not in came_from:
                    came_from[other] = module
                    following.append(other)
        frontier = following
    path = [start]
    while path[-1] != start or len(path) == 1:
        path.append(came_from[path[-1]])
    return path[::-1]


def import_cycles(graph: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """One cycle for each group of modules that import each other, as ``[a, b, c, a]``."""
    return [shortest_cycle(group, graph) for group in import_groups(graph)]


def cycle_report(
    cycle: Sequence[str], graph: Mapping[str, Mapping[str, str]], group: Sequence[str] = ()
) -> str:
    """``import cycle: a -> b -> a``, where each of those imports stands and, when more
    modules import each other with them, the whole group."""
    lines = [f"import cycle: {' -> '.join(cycle)}"]
    lines += [f"  {graph[a][b]}: {a} imports {b}" for a, b in itertools.pairwise(cycle)]
    if len(group) > len(set(cycle)):
        lines.append(f"  ({len(group)} modules import each other: {', '.join(group)})")
    return "\n".join(lines)


MODULES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize(
    "path", MODULES, ids=[p.relative_to(ROOT.parent).as_posix() for p in MODULES]
)
def test_module_keeps_to_its_layer(path: Path) -> None:
    found = check_file(path)
    assert not found, "\n".join(found)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    found = [
        cycle_report(shortest_cycle(group, graph), graph, group) for group in import_groups(graph)
    ]
    assert not found, "\n".join(found)


def test_every_layer_is_a_package_here() -> None:
    """The layer list names what is on disk (a renamed layer would check nothing)."""
    on_disk = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    on_disk |= {p.stem for p in ROOT.glob("*.py") if p.stem not in ("__init__", *FACADES)}
    assert on_disk == {*LAYERS, *BOTTOM, LEAF}
    assert set(public_names().values()) <= {m for p in MODULES if (m := module_name(p))}


def _distribution(requirement: str) -> str:
    """``jsonschema-rs>=0.20`` -> ``jsonschema-rs`` (normalised as PEP 503 does)."""
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    """A third-party package the code imports is a dependency or in an extra of pyproject.toml
    (a package that only arrives through another one can go away with it)."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT.parent / "pyproject.toml").read_text("utf-8"))["project"]
    declared = {_distribution(r) for r in project["dependencies"]}
    declared |= {
        _distribution(r) for extra in project["optional-dependencies"].values() for r in extra
    }
    providers = importlib.metadata.packages_distributions()
    undeclared = []
    for path in MODULES:
        module = module_name(path)
        for line, name in imports(path.read_text("utf-8"), module, path.name == "__init__.py"):
            top = name.split(".")[0]
            if top == PACKAGE or top in sys.stdlib_module_names or top == "__future__":
                continue
            dists = {_distribution(d) for d in providers.get(top, [top])}
            if not dists & declared:
                shown = path.relative_to(ROOT.parent).as_posix()
                undeclared.append(f"{shown}:{line}: {name} (from {', '.join(sorted(dists))})")
    assert not undeclared, "\n".join(undeclared)


# --------------------------------------------------------------------------- light imports

SDKS = ("ollama", "openai", "httpx", "httpx2", "pydantic", "llama_cpp")
HEAVY = ("pytest", "_pytest", "jsonschema", "jsonschema_rs", "yaml", *SDKS)


def loaded_after(statement: str) -> list[str]:
    """The top-level packages of ``HEAVY`` that ``statement`` loads, in a fresh interpreter."""
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    path = os.pathsep.join([str(ROOT.parent), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=60,
    )
    found: list[str] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize(
    "statement",
    [
        "from pytest_llmbench import best_model",
        "import pytest_llmbench.providers.ollama",
        "import pytest_llmbench.providers.openai",
        "import pytest_llmbench.providers.llamacpp",
        "import pytest_llmbench.providers.registry",
        "import pytest_llmbench.cases.records",
        "import pytest_llmbench.cases.problems",
        "import pytest_llmbench.cases.templates",
        "import pytest_llmbench.cases.hashing",
        "import pytest_llmbench.cases.yaml_lines",
        "import pytest_llmbench.cases.schema",
        "import pytest_llmbench.cases.build",
        "import pytest_llmbench.cases.load",
        "import pytest_llmbench.execution.call",
        "import pytest_llmbench.analysis.ranking",
        "import pytest_llmbench.reporting.end",
    ],
)
def test_heavy_dependencies_load_when_first_needed(statement: str) -> None:
    assert loaded_after(statement) == []


def test_the_pytest_entry_point_loads_nothing_heavy_but_pytest() -> None:
    # Every pytest run pays this import once the plugin is installed.
    assert loaded_after("import pytest_llmbench.plugin") == ["_pytest", "pytest"]


def test_the_import_check_sees_a_heavy_import() -> None:
    assert loaded_after("import pytest_llmbench.providers.ollama, ollama") == [
        "httpx",
        "ollama",
        "pydantic",
    ]


# --------------------------------------------------------------------------- what a run loads

FEATURES = (
    "pytest_llmbench.analysis.ab",
    "pytest_llmbench.analysis.at_load",
    "pytest_llmbench.analysis.calibration",
    "pytest_llmbench.analysis.consensus",
    "pytest_llmbench.execution.judge",
    "pytest_llmbench.execution.judging",
    "pytest_llmbench.execution.load",
    "pytest_llmbench.analysis.load",
    "pytest_llmbench.providers.llamacpp",
    "pytest_llmbench.providers.openai",
    "pytest_llmbench.storage.champions",
    "pytest_llmbench.storage.succession",
    "tabulate",
    "urllib.request",
)
"""Modules of features a run of Ollama models without a judge or a load phase does not use
(issue 23, point 0: start-up): A/B comparison, the judge, the load phase, consensus
(their record types in ``analysis.ranking`` are imported when the codec reads a record
that has one), the other built-in providers, the champions file and the history's
selection readers, ``tabulate`` (the ranking table is drawn
without it) and stdlib's HTTP client."""

RECORD_RUN = """
import json
import ssl
import sys

from pytest_llmbench.providers.scripted import ScriptedProvider

_contexts = []
_new = ssl.SSLContext.__new__


def _counting_new(cls, *args, **kwargs):
    _contexts.append(cls.__name__)
    return _new(cls, *args, **kwargs)


ssl.SSLContext.__new__ = staticmethod(_counting_new)


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {"right": lambda request: "PASS"}))


def pytest_unconfigure(config):
    sdks = sorted({name.split(".")[0] for name in sys.modules} & set(SDKS))
    features = sorted(set(sys.modules) & set(FEATURES))
    loaded = {"sdks": sdks, "tls_contexts": len(_contexts), "features": features}
    (config.rootpath / "loaded.json").write_text(json.dumps(loaded))
""".replace("SDKS", repr(SDKS)).replace("FEATURES", repr(FEATURES))
"""A conftest that writes, when pytest ends, which provider SDKs the process imported
and how many TLS contexts it made (``ssl.SSLContext``), and adds a scripted provider."""


def _dead_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "selection", ["ollama", "endpoint", "all-unconfigured", "control-https-ollama"]
)
def test_a_run_imports_only_what_its_models_need(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, selection: str
) -> None:
    """Issue 17 (start-up): no provider SDK before a model of its provider needs it.

    - ``ollama``: only Ollama models, on a plain ``http://`` server: neither ``openai``
      nor ``llama_cpp``, and not even ``ollama`` (with httpx and pydantic): the lean
      client speaks to the server and reads its replies; and no TLS context;
    - ``endpoint``: only an OpenAI-compatible endpoint on ``http://``: likewise;
    - ``all-unconfigured``: ``--llm-models=all`` where Ollama does not answer and no
      ``OPENAI_API_KEY`` is set: discovering those costs no import (the embedded
      provider looks for its package without importing it), ``--collect-only``;
    - ``control-https-ollama``: the same with Ollama at an ``https://`` URL, which only
      the ``ollama`` client serves: the record sees its import and its TLS context.
    """
    from tests.support.casedata import right_answer, verdict_yaml
    from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator
    from tests.support.openai_emulator import OpenAIEmulator

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pytester.makeconftest(RECORD_RUN)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=2))
    quiet = ("-p", "no:benchmark", "-p", "no:cacheprovider")
    with (
        OllamaEmulator(models=[EmulatedModel("m:1b")], answer=right_answer) as ollama_srv,
        OpenAIEmulator(
            models=["m"], answer=lambda m, msgs, f: right_answer(m, msgs, f, None)
        ) as openai_srv,
    ):
        args = {
            "ollama": (f"--llm-ollama-host={ollama_srv.url}", "--llm-models=ollama"),
            "endpoint": (f"--llm-endpoint=bench={openai_srv.url} models=m", "--llm-models=bench"),
            "all-unconfigured": (
                f"--llm-ollama-host=http://127.0.0.1:{_dead_port()}",
                "--llm-models=all",
                "--collect-only",
            ),
            "control-https-ollama": (
                f"--llm-ollama-host=https://127.0.0.1:{_dead_port()}",
                "--llm-models=all",
                "--collect-only",
            ),
        }[selection]
        result = pytester.runpytest_subprocess("evals", *args, *quiet)
    assert result.ret == 0, result.stdout.str()[-2000:]
    if "--collect-only" not in args:
        result.assert_outcomes(passed=2)
    loaded = json.loads((pytester.path / "loaded.json").read_text())
    if selection == "control-https-ollama":
        assert {"ollama", "httpx", "pydantic"} <= set(loaded["sdks"])
        assert loaded["tls_contexts"] >= 1
    else:
        assert (loaded["sdks"], loaded["tls_contexts"]) == ([], 0)
    if selection == "ollama":
        assert loaded["features"] == []


# --------------------------------------------------------------------------- the checker


VIOLATING = """\
from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmbench.cases.records import Task
from pytest_llmbench.plugin.session import Session
from pytest_llmbench import best_model, __version__

if TYPE_CHECKING:
    import pytest


def fetch() -> None:
    import httpx
    from urllib import request
    from pytest_llmbench.providers import ollama
"""


def test_the_checker_names_each_broken_rule_with_its_line(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    module = root / "analysis" / "bad.py"
    module.parent.mkdir(parents=True)
    module.write_text(VIOLATING, encoding="utf-8")

    found = check_file(module, root)

    shown = f"{PACKAGE}/analysis/bad.py"
    facade = (
        "the package root is the public facade, no module of the package imports it "
        f"(__version__ is in {PACKAGE}._version)"
    )
    assert found == [
        f"{shown}:6: imports {PACKAGE}.plugin.session.Session: analysis/ is below plugin/ "
        f"(imports only go down: {ORDER})",
        f"{shown}:7: imports {PACKAGE}.__version__: {facade}",
        f"{shown}:7: imports {PACKAGE}.best_model: {facade}",
        f"{shown}:10: imports pytest: only plugin/ may import pytest or its plugins",
        f"{shown}:14: imports httpx: analysis/ makes no network call and runs no process",
        f"{shown}:15: imports urllib.request: analysis/ makes no network call and runs no process",
        f"{shown}:16: imports {PACKAGE}.providers.ollama: "
        "analysis/ makes no network call and runs no process",
    ]


def test_the_checker_reports_an_upward_import(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    module = root / "cases" / "up.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pytest_llmbench.providers.base import Request\n"
        "def f():\n"
        "    from ..execution import call\n",
        encoding="utf-8",
    )
    assert check_file(module, root) == [
        f"{PACKAGE}/cases/up.py:3: imports {PACKAGE}.providers.base.Request: cases/ is below "
        f"providers/ (imports only go down: {ORDER})",
        f"{PACKAGE}/cases/up.py:5: imports {PACKAGE}.execution.call: cases/ is below "
        f"execution/ (imports only go down: {ORDER})",
    ]


def test_the_checker_keeps_the_bottom_layer_at_the_bottom(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    (root / "safety").mkdir(parents=True)
    files = {
        "safety/sanitising.py": (
            "from pytest_llmbench._version import __version__\n"
            "from pytest_llmbench.safety.redaction import redact\n"
            "from pytest_llmbench.formatting import one_line\n"
            "from pytest_llmbench.cases.model import Task\n"
        ),
        "formatting.py": (
            "from pytest_llmbench._version import __version__\n"
            "from pytest_llmbench.safety import redaction\n"
        ),
        "_version.py": "from pytest_llmbench.formatting import ms\n",
    }
    for name, source in files.items():
        (root / name).write_text(source, encoding="utf-8")
    bottom = "the bottom layer, it imports nothing of the package but _version"
    assert check_file(root / "safety" / "sanitising.py", root) == [
        f"{PACKAGE}/safety/sanitising.py:3: imports {PACKAGE}.formatting.one_line: safety is "
        f"{bottom}",
        f"{PACKAGE}/safety/sanitising.py:4: imports {PACKAGE}.cases.model.Task: safety is {bottom}",
    ]
    assert check_file(root / "formatting.py", root) == [
        f"{PACKAGE}/formatting.py:2: imports {PACKAGE}.safety.redaction: formatting is {bottom}"
    ]
    assert check_file(root / "_version.py", root) == [
        f"{PACKAGE}/_version.py:1: imports {PACKAGE}.formatting.ms: _version imports nothing "
        "of the package"
    ]


def test_the_checker_passes_a_module_that_keeps_the_rules(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    module = root / "storage" / "good.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import subprocess\n"
        "from pytest_llmbench._version import __version__\n"
        "from pytest_llmbench.analysis.ranking import TaskRanking\n"
        "from pytest_llmbench.storage import history\n"
        "from pytest_llmbench.safety.redaction import redact\n"
        "from pytest_llmbench.formatting import ms\n"
        "from . import champions\n"
        "def f():\n"
        "    from pytest_llmbench.cases.records import Task\n",
        encoding="utf-8",
    )
    assert check_file(module, root) == []


def test_only_the_plugin_may_import_pytest(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    for where in ("plugin", "cases"):
        module = root / where / "m.py"
        module.parent.mkdir(parents=True)
        module.write_text("import _pytest.nodes\nfrom xdist import remote\n", encoding="utf-8")
    assert check_file(root / "plugin" / "m.py", root) == []
    assert check_file(root / "cases" / "m.py", root) == [
        f"{PACKAGE}/cases/m.py:1: imports _pytest.nodes: only plugin/ may import pytest or its "
        "plugins",
        f"{PACKAGE}/cases/m.py:2: imports xdist.remote: only plugin/ may import pytest or its "
        "plugins",
    ]


def _package(root: Path, files: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Write a package of ``files`` (path -> source) under ``root`` and read its imports."""
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return import_graph(root)


def test_the_checker_reports_a_planted_cycle_of_every_kind_of_import(tmp_path: Path) -> None:
    """a imports b at module level, b imports c in a function, c imports a for typing only."""
    root = tmp_path / PACKAGE
    graph = _package(
        root,
        {
            "__init__.py": "",
            "layer/__init__.py": "from .a import A\n",
            "layer/a.py": "from pytest_llmbench.layer import b\nA = 1\n",
            "layer/b.py": "def f():\n    from pytest_llmbench.layer.c import C\n",
            "layer/c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    import pytest_llmbench.layer.a\n"
                "C = 1\n"
            ),
            "layer/d.py": "from pytest_llmbench.layer.a import A\n",  # into the cycle only
        },
    )
    layer_ = f"{PACKAGE}.layer"
    cycles = import_cycles(graph)
    assert cycles == [[f"{layer_}.a", f"{layer_}.b", f"{layer_}.c", f"{layer_}.a"]]
    assert cycle_report(cycles[0], graph) == "\n".join(
        [
            f"import cycle: {layer_}.a -> {layer_}.b -> {layer_}.c -> {layer_}.a",
            f"  {PACKAGE}/layer/a.py:1: {layer_}.a imports {layer_}.b",
            f"  {PACKAGE}/layer/b.py:2: {layer_}.b imports {layer_}.c",
            f"  {PACKAGE}/layer/c.py:3: {layer_}.c imports {layer_}.a",
        ]
    )


def test_the_checker_reports_each_cycle_and_only_cycles(tmp_path: Path) -> None:
    """Two cycles are two reports; a package importing its own modules, a module naming
    itself and the facade importing everything are no cycles; a module that imports the
    package root closes one through the facade."""
    root = tmp_path / PACKAGE
    graph = _package(
        root,
        {
            "__init__.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from pytest_llmbench.low.x import X\n"
                "    from pytest_llmbench.low.v import V\n"
                "    from pytest_llmbench.top import T\n"
            ),
            "top.py": "from pytest_llmbench.low import x\nT = 1\n",
            "low/__init__.py": "from pytest_llmbench.low.x import X\n",
            "low/x.py": "from pytest_llmbench.low import y\nfrom pytest_llmbench.low.x import X\n",
            "low/y.py": "from . import x\n",
            "low/v.py": "from pytest_llmbench import __version__\nV = 1\n",
            "low/p.py": "def f():\n    from pytest_llmbench.low import q\n",
            "low/q.py": "from .p import f\n",
        },
    )
    assert import_groups(graph)[0] == [PACKAGE, f"{PACKAGE}.low.v"]
    assert [" -> ".join(c) for c in import_cycles(graph)] == [
        f"{PACKAGE} -> {PACKAGE}.low.v -> {PACKAGE}",
        f"{PACKAGE}.low.p -> {PACKAGE}.low.q -> {PACKAGE}.low.p",
        f"{PACKAGE}.low.x -> {PACKAGE}.low.y -> {PACKAGE}.low.x",
    ]


def test_a_cycle_report_names_the_whole_group_when_it_is_larger(tmp_path: Path) -> None:
    """items -> benchmark -> items, and elimination -> items -> elimination: one group."""
    root = tmp_path / PACKAGE
    graph = _package(
        root,
        {
            "p/items.py": "from pytest_llmbench.p import benchmark, elimination\n",
            "p/benchmark.py": "from pytest_llmbench.p import items\n",
            "p/elimination.py": "def f():\n    from pytest_llmbench.p import items\n",
        },
    )
    p = f"{PACKAGE}.p"
    [group] = import_groups(graph)
    assert cycle_report(shortest_cycle(group, graph), graph, group) == "\n".join(
        [
            f"import cycle: {p}.benchmark -> {p}.items -> {p}.benchmark",
            f"  {PACKAGE}/p/benchmark.py:1: {p}.benchmark imports {p}.items",
            f"  {PACKAGE}/p/items.py:1: {p}.items imports {p}.benchmark",
            f"  (3 modules import each other: {p}.benchmark, {p}.elimination, {p}.items)",
        ]
    )


# -- room sizes (issue 21, acceptance 1) ------------------------------------------------

PLUGIN_LINES = 2500
MAX_MEMBERS = 15
HOOK_LINES = 25


def _classes() -> Iterator[tuple[str, ast.ClassDef]]:
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                yield f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}", node


def test_the_pytest_layer_stays_thin() -> None:
    lines = sum(
        len(p.read_text(encoding="utf-8").splitlines()) for p in (ROOT / "plugin").rglob("*.py")
    )
    assert lines <= PLUGIN_LINES, f"plugin/ has {lines} lines (at most {PLUGIN_LINES})"


def test_no_class_has_more_than_15_methods_or_attributes() -> None:
    """Plain records (dataclass fields) aside: methods defined in the class body, and
    attributes the class assigns on ``self``."""
    large = []
    for where, node in _classes():
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        attributes = {
            n.attr
            for n in ast.walk(node)
            if isinstance(n, ast.Attribute)
            and isinstance(n.ctx, ast.Store)
            and isinstance(n.value, ast.Name)
            and n.value.id == "self"
        }
        if len(methods) > MAX_MEMBERS or len(attributes) > MAX_MEMBERS:
            large.append(f"{where}: {len(methods)} methods, {len(attributes)} attributes")
    assert large == []


def test_every_hook_implementation_is_at_most_25_lines() -> None:
    long = []
    for path in sorted((ROOT / "plugin").rglob("*.py")):
        if path.name == "hookspec.py":  # the specs document the hooks; they run nothing
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("pytest_"):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > HOOK_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name}: {length} lines")
    assert long == []
