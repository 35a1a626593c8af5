"""The plain table draws what ``tabulate``'s "simple" format draws, line for line."""

from __future__ import annotations

import random

import pytest
from tabulate import tabulate

from pytest_llmbench.reporting.plain_table import simple_table

WORDS = ["", " ", "a", "ollama/m:1b", "10/10", "1,234", " padded ", "champion", "—", "模型", "x\ny"]


def _tabulate(rows: list[list[str]], headers: list[str], align: list[str]) -> list[str]:
    text = tabulate(
        rows, headers=headers, colalign=tuple(align), tablefmt="simple", disable_numparse=True
    )
    return text.splitlines()


@pytest.mark.parametrize("seed", range(200))
def test_a_table_is_drawn_as_tabulate_draws_it(seed: int) -> None:
    rng = random.Random(seed)
    width = rng.randint(1, 6)
    headers = [rng.choice(["model", "mean ms", "p95 ms", "status", "", "x"]) for _ in range(width)]
    align = [rng.choice(["left", "right"]) for _ in range(width)]
    words = WORDS if seed % 4 == 0 else WORDS[:8]  # mostly the plain path
    rows = [[rng.choice(words) for _ in range(width)] for _ in range(rng.randint(0, 5))]
    assert simple_table(rows, headers, align) == _tabulate(rows, headers, align)


def test_the_ranking_table_needs_no_tabulate() -> None:
    rows = [["ollama/m:1b", "10/10", "4"], ["openai/gpt", "9/10", "120"]]
    assert simple_table(rows, ["model", "correct", "mean ms"], ["left", "right", "right"]) == [
        "model          correct    mean ms",
        "-----------  ---------  ---------",
        "ollama/m:1b      10/10          4",
        "openai/gpt        9/10        120",
    ]
