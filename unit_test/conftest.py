"""Shared fixtures: an isolated output root per test, a model root per session, helpers to run the command line."""

from __future__ import annotations

import os
import signal

import pytest

from unit_test.helpers import REPO


def pytest_configure(config):
    # A suite started in the background (`make test &`) inherits SIGINT ignored, and so would every process it
    # starts: job_launch's Ctrl-C and Ray's cancelling of a task (a SIGINT to its worker) would then do nothing.
    # Restore it as at a terminal; the processes the tests start get the default action.
    signal.signal(signal.SIGINT, signal.default_int_handler)


# The longest tests, by module, longest first. pytest-xdist hands tests out in collection order (groups
# first, largest first), a few at a time: a long test handed out last would leave one worker running it
# alone while the other sits idle, so these start first and the short unit tests fill the end.
LONGEST_FIRST = (
    "test_tune_resume.py",
    "test_llm_chain.py",
    "test_tune_sweeper.py",
    "test_tune_planner.py",
    "test_parallel_multirun.py",
    "test_sweep_watch.py",
    "test_tracking.py",
    "test_planner_loop.py",
    "test_tune_suite.py",
    "test_resume_after_sigterm.py",
    "test_llm_benchmark.py",
    "test_cifar_command_line.py",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> tuple[int, int]:
        module = item.path.name
        if module in LONGEST_FIRST:
            return (0, LONGEST_FIRST.index(module))
        return (1, 0) if item.get_closest_marker("integration") else (2, 0)

    items.sort(key=rank)  # stable: the order within a module is kept


@pytest.fixture
def paths(tmp_path):
    from engine.paths import Paths

    return Paths(
        data_root=str(tmp_path / "data"),
        model_root=str(tmp_path / "models"),
        cache_root=str(tmp_path / "cache"),
        output_root=str(tmp_path / "out"),
    )


@pytest.fixture
def cli_env(tmp_path):
    """Environment for command-line tests: every root inside tmp_path."""
    env = dict(os.environ)
    for key, sub in (("DATA", "data"), ("MODEL", "models"), ("CACHE", "cache"), ("OUTPUT", "out")):
        env[f"METAPROGRAM_{key}_ROOT"] = str(tmp_path / sub)
    env["PYTHONPATH"] = str(REPO)
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="session")
def session_model_root(tmp_path_factory):
    """One model_root for the whole session, shared by pytest-xdist workers: the tiny Llama is built and
    SmolLM2's GGUF converted once (materialize caches by rename, so workers racing on a build are safe)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "session_models"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance per test process for the Ray Tune tests (started once, stopped at the end)."""
    import ray

    from job_launch.cluster import init_ray

    init_ray(num_cpus=2)
    yield ray
    ray.shutdown()
