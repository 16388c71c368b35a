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
