"""One local Ray instance for the Ray Tune tests of this folder (started once, stopped at the end)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    import ray

    from job_launch.cluster import init_ray

    init_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def sleep_sweep(name: str, space: dict, *, count: int = 4, overrides=(), **tune) -> dict:
    """A tune sweep over the sleep pipeline (a run of known length that trains nothing)."""
    return {
        "name": name,
        "suite": "test",
        "base": {
            "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "sleep"},
            "overrides": list(overrides),
        },
        "space": space,
        "mode": "tune",
        "count": count,
        "seed": 0,
        "tune": {"concurrency": 2, **tune},
    }
