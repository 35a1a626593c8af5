"""The embedded thread count: threads x xdist workers <= cores, overridable, recorded."""

from __future__ import annotations

import pytest

from pytest_llmbench.providers import llamacpp
from pytest_llmbench.providers.llamacpp import THREADS_ENV, choose_threads, passive_wait
from pytest_llmbench.storage.json_report import embedded_threads


@pytest.fixture
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llamacpp, "available_cores", lambda: 4)


@pytest.mark.usefixtures("four_cores")
def test_threads_share_the_cores_among_xdist_workers() -> None:
    alone = choose_threads(environ={}, measure=False)
    assert (alone.threads, alone.cores, alone.workers, alone.source) == (4, 4, 1, "auto")
    two = choose_threads(environ={"PYTEST_XDIST_WORKER_COUNT": "2"}, measure=False)
    assert two.threads * two.workers <= two.cores
    assert two.threads == 2
    many = choose_threads(environ={"PYTEST_XDIST_WORKER_COUNT": "8"}, measure=False)
    assert many.threads == 1


@pytest.mark.usefixtures("four_cores")
def test_busy_cores_are_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llamacpp, "idle_cores", lambda cores: 1.2)
    chosen = choose_threads(environ={})
    assert chosen.threads == 1
    assert chosen.idle == pytest.approx(1.2)
    monkeypatch.setattr(llamacpp, "idle_cores", lambda cores: 0.1)
    assert choose_threads(environ={}).threads == 1  # never 0


@pytest.mark.usefixtures("four_cores")
def test_the_option_then_the_environment_override_the_choice() -> None:
    assert choose_threads(3, environ={THREADS_ENV: "2"}).threads == 3
    chosen = choose_threads(environ={THREADS_ENV: "2", "PYTEST_XDIST_WORKER_COUNT": "4"})
    assert (chosen.threads, chosen.source) == (2, THREADS_ENV)
    assert choose_threads(environ={THREADS_ENV: "zero"}, measure=False).threads == 4


def test_idle_cores_reads_a_plausible_share_of_the_machine() -> None:
    idle = llamacpp.idle_cores(2, window_s=0.01)
    if idle is not None:  # Linux
        assert 0.0 <= idle <= 2.0


def test_passive_wait_keeps_a_policy_the_user_set() -> None:
    environ: dict[str, str] = {}
    passive_wait(environ)
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    passive_wait(mine)
    assert mine == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_the_run_records_the_embedded_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = llamacpp.Threads(2, 4, 2, 3.5, "auto")
    monkeypatch.setattr(llamacpp, "_THREADS", chosen)
    assert embedded_threads(["ollama/a"]) == {}
    recorded = embedded_threads(["llamacpp/smollm2-135m"])["embedded_threads"]
    assert recorded == {
        "threads": 2,
        "cores": 4,
        "workers": 2,
        "idle_cores": 3.5,
        "source": "auto",
    }


def test_the_conditions_record_the_count_used_and_choose_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process that loaded no embedded model (an xdist controller) records no count,
    and does not choose one at the end of the run."""
    from pytest_llmbench.storage.json_report import machine_conditions

    monkeypatch.setattr(llamacpp, "_THREADS", None)
    monkeypatch.setattr(llamacpp, "choose_threads", lambda *a, **k: pytest.fail("chosen"))
    start = {"load_1m": 0.1, "cores": 2}
    assert machine_conditions(start, ["llamacpp/smollm2-135m"])["embedded_threads"] is None
    monkeypatch.setattr(llamacpp, "_THREADS", llamacpp.Threads(1, 2, 2, 1.0, "auto"))
    assert machine_conditions(start, ["llamacpp/smollm2-135m"])["embedded_threads"] == 1
