"""``docs/reference/options.md``, made from the option table.

``python -m pytest_llmbench.settings.reference [PATH]`` writes it (run at the
repository root); ``tests/test_plugin_options.py`` fails when the committed page is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pytest_llmbench.settings.table import OPTIONS, Spec

PAGE = Path("docs/reference/options.md")

HEADER = """\
# Options reference

<!-- Generated from pytest_llmbench/settings/table.py by
     `python -m pytest_llmbench.settings.reference`; do not edit by hand. -->

Every `--llm-*` option and `llm_*` ini key of pytest-llmbench. An option given on the
command line wins over its ini key, which wins over the default; an ini key left empty
means the default. A path option is relative to where pytest was started."""


def render() -> str:
    """The reference page: one table row per option or ini key, by section."""
    lines = [HEADER]
    for section in dict.fromkeys(one.section for one in OPTIONS):
        lines += ["", f"## {section}", "", "| Option | ini key | Default | What it does |"]
        lines.append("| --- | --- | --- | --- |")
        lines += [_row(one) for one in OPTIONS if one.section == section]
    return "\n".join(lines) + "\n"


def _row(one: Spec) -> str:
    metavar = one.metavar or "|".join(one.choices or ())
    flag = f"`{one.flag} {metavar}`".replace(" `", "`") if one.flag else ""
    ini = f"`{one.ini}`" if one.ini else ""
    text = one.help.replace("%%", "%")
    if one.reference:
        text += (" " if text.endswith(".") else ". ") + one.reference
    cells = (flag, ini, _default(one), text)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _default(one: Spec) -> str:
    if one.shown_default is not None:
        return one.shown_default
    if isinstance(one.default, bool):
        return str(one.default).lower()
    if isinstance(one.default, float):
        return f"{one.default:g}"
    return "none" if one.default in (None, ()) else str(one.default)


def main(argv: list[str] | None = None) -> int:
    """Write the page to ``argv[0]``, else :data:`PAGE`."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
