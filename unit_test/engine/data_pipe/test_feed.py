"""Feeding the execution pipeline: chunked hand-overs and data-parallel shares keep the single-process batches."""

from __future__ import annotations

import pytest
import torch

from engine.data_pipe.feed import EpochBatches, InMemory, Streamed
from engine.data_point import Split
from engine.schema.datasets import DataLoading


def _split(n: int) -> Split:
    return Split(torch.randn(n, 8), torch.arange(n) % 5)


def test_workers_read_several_batches_at_once_and_the_loop_gets_the_same_batches():
    split = _split(1003)
    streamed = Streamed(split, "cpu", 16, 3, DataLoading(workers=2))
    assert streamed.chunk > 1  # small rows: one hand-over carries several batches
    memory = list(InMemory(split, "cpu", 16, 3).epoch(2))
    batches = list(streamed.epoch(2))
    assert len(batches) == len(memory) == 63
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(memory, batches, strict=True))
    assert torch.equal(torch.cat([x for x, _ in streamed.in_order()]), split.inputs)


@pytest.mark.parametrize("n", [1003, 1009])  # 1009: the last batch (1 sample) leaves rank 1 an empty share
def test_each_rank_gets_its_share_of_every_batch_and_the_shares_make_the_batch(n):
    split, world = _split(n), 2
    single = list(InMemory(split, "cpu", 16, 5).epoch(3))
    for feed in (
        lambda rank: Streamed(split, "cpu", 16, 5, DataLoading(workers=2), rank=rank, world=world),
        lambda rank: InMemory(split, "cpu", 16, 5, rank=rank, world=world),
    ):
        shares = [list(feed(rank).epoch(3)) for rank in range(world)]
        assert [len(s) for s in shares] == [len(single)] * world  # every rank takes every step
        for step, (inputs, targets) in enumerate(single):
            joined = torch.cat([shares[rank][step][0] for rank in range(world)])
            assert sorted(map(tuple, joined.tolist())) == sorted(map(tuple, inputs.tolist()))
            assert sum(len(shares[rank][step][1]) for rank in range(world)) == len(targets)
    # 1003: a last batch of 11 samples, 5 of them rank 1's
    assert EpochBatches(n, 16, 5, rank=1, world=2).sizes()[-1] == (0 if n == 1009 else 5)
