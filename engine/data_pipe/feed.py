"""Feeding a split to the execution pipeline: from memory, or streamed through a DataLoader.

`InMemory` holds the split on the device and cuts batches by index: no DataLoader overhead,
the fast path for data that fits. `Streamed` serves the same batches from a DataLoader with
worker processes, per-sample transforms (a pretrained model's image processor), pinned memory
and non-blocking copies on CUDA: for data above `pipeline.loader.in_memory_limit_gb` or data
that a transform turns into something too large to hold. Both shuffle with the same
(seed, epoch) permutation, so a run gives the same results either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from engine.data_point import Split
from engine.precision import to_device

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]  # (inputs, targets) on the device
EVAL_BATCH = 4096


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffle of one epoch: it depends on (seed, epoch) only, so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def data_gb(*splits: Split) -> float:
    return sum(s.inputs.nbytes + s.targets.nbytes for s in splits) / 2**30


class InMemory:
    """Index slices of tensors held on the device."""

    def __init__(self, split: Split, device: str, batch_size: int, seed: int):
        self.split, self.device, self.batch_size, self.seed = to_device(split, device), device, batch_size, seed

    def __len__(self) -> int:
        return len(self.split)

    def epoch(self, epoch: int) -> Batches:
        order = epoch_order(len(self.split), self.seed, epoch).to(self.device)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.split.inputs[index], self.split.targets[index]

    def in_order(self) -> Batches:
        for start in range(0, len(self.split), EVAL_BATCH):
            yield self.split.inputs[start : start + EVAL_BATCH], self.split.targets[start : start + EVAL_BATCH]


class Streamed:
    """The same batches from a DataLoader: workers, per-sample transform, pinned memory, non-blocking copies."""

    def __init__(
        self,
        split: Split,
        device: str,
        batch_size: int,
        seed: int,
        loading,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        self.split, self.device = split, device
        self.shuffled = EpochBatches(len(split), batch_size, seed)
        # without a transform a batch is one index operation, so evaluation can take big ones
        self.ordered = EpochBatches(len(split), EVAL_BATCH if transform is None else batch_size, seed, shuffle=False)
        dataset = SplitDataset(split, transform)
        cuda = torch.device(device).type == "cuda"
        workers = {"num_workers": loading.workers}
        if loading.workers:
            workers.update(persistent_workers=True, prefetch_factor=loading.prefetch)
        # each loader draws its workers' base seed from its own generator, not from torch's global one,
        # which the model's dropout uses: streaming leaves the training's random numbers as they are
        self.train_loader, self.eval_loader = (
            DataLoader(
                dataset,
                batch_sampler=sampler,
                collate_fn=_as_is,
                pin_memory=cuda,
                generator=torch.Generator().manual_seed(seed),
                **workers,
            )
            for sampler in (self.shuffled, self.ordered)
        )

    def __len__(self) -> int:
        return len(self.split)

    def epoch(self, epoch: int) -> Batches:
        self.shuffled.epoch = epoch
        return self._to_device(self.train_loader)

    def in_order(self) -> Batches:
        return self._to_device(self.eval_loader)

    def _to_device(self, loader: DataLoader) -> Batches:
        for inputs, targets in loader:
            yield inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)


class EpochBatches(Sampler):
    """Batches of indices: the epoch's shuffle (as InMemory cuts it), or the split in order."""

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool = True):
        self.n, self.batch_size, self.seed, self.shuffle, self.epoch = n, batch_size, seed, shuffle, 0

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = epoch_order(self.n, self.seed, self.epoch) if self.shuffle else torch.arange(self.n)
        return iter(order.split(self.batch_size))


class SplitDataset(Dataset):
    """A split read a batch of indices at a time (`__getitems__`), each sample through `transform` if any."""

    def __init__(self, split: Split, transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.split, self.transform = split, transform

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = self.__getitems__(torch.tensor([index]))
        return inputs[0], targets[0]

    def __getitems__(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(index)
        inputs = self.split.inputs[index]  # (B, *input_shape)
        if self.transform is not None:
            inputs = torch.stack([self.transform(sample) for sample in inputs])  # (B, *transformed shape)
        return inputs, self.split.targets[index]


def _as_is(batch):
    return batch  # __getitems__ already gives the batch
