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

    def __init__(self, split: Split, device: str, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.split, self.device, self.batch_size, self.seed = to_device(split, device), device, batch_size, seed
        self.rank, self.world = rank, world  # data-parallel: this rank's share of each batch, as EpochBatches

    def __len__(self) -> int:
        return len(self.split)

    def epoch(self, epoch: int) -> Batches:
        order = epoch_order(len(self.split), self.seed, epoch).to(self.device)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size][self.rank :: self.world]
            yield self.split.inputs[index], self.split.targets[index]

    def in_order(self) -> Batches:
        for start in range(0, len(self.split), EVAL_BATCH):
            yield self.split.inputs[start : start + EVAL_BATCH], self.split.targets[start : start + EVAL_BATCH]


class Streamed:
    """The same batches from a DataLoader: workers, per-sample transform, pinned memory, non-blocking copies.

    Without a transform a worker's whole job is one index operation, and passing a tensor between processes
    (shared memory and a socket per tensor) costs more than that: a worker then reads `chunk` batches at once
    and the loop cuts them apart again, the same batches in the same order with a fraction of the hand-overs,
    and evaluation reads the split in order here, where it already is. With `rank` and `world` (data-parallel
    training) each process gets its share of every batch (`EpochBatches`).
    """

    def __init__(
        self,
        split: Split,
        device: str,
        batch_size: int,
        seed: int,
        loading,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        rank: int = 0,
        world: int = 1,
    ):
        self.split, self.device, self.transform = split, device, transform
        self.cuda = torch.device(device).type == "cuda"
        local_batch = -(-batch_size // world)  # the most samples of one batch any rank gets
        self.chunk = 1 if transform is not None else chunk_batches(split, local_batch, loading.workers)
        self.shuffled = EpochBatches(len(split), batch_size, seed, rank=rank, world=world, chunk=self.chunk)
        dataset = SplitDataset(split, transform)
        workers = {"num_workers": loading.workers}
        if loading.workers:
            workers.update(persistent_workers=True, prefetch_factor=loading.prefetch)
        # the loader draws its workers' base seed from its own generator, not from torch's global one,
        # which the model's dropout uses: streaming leaves the training's random numbers as they are
        loader = lambda sampler: DataLoader(  # noqa: E731
            dataset,
            batch_sampler=sampler,
            collate_fn=_as_is,
            pin_memory=self.cuda,
            generator=torch.Generator().manual_seed(seed),
            **workers,
        )
        self.train_loader = loader(self.shuffled)
        self.eval_loader = None
        if transform is not None:  # without one, evaluation slices the split in this process (in_order)
            self.eval_loader = loader(EpochBatches(len(split), batch_size, seed, shuffle=False))

    def __len__(self) -> int:
        return len(self.split)

    def epoch(self, epoch: int) -> Batches:
        self.shuffled.epoch = epoch
        sizes = self.shuffled.sizes()
        for number, (inputs, targets) in enumerate(self._to_device(self.train_loader)):
            # a chunk of several batches: cut apart into views, no copies
            cut = sizes[number * self.chunk : (number + 1) * self.chunk]
            yield from zip(inputs.split(cut), targets.split(cut), strict=True)

    def in_order(self) -> Batches:
        if self.eval_loader is not None:
            return self._to_device(self.eval_loader)
        return self._slices()

    def _slices(self) -> Batches:
        for start in range(0, len(self.split), EVAL_BATCH):
            end = start + EVAL_BATCH
            inputs, targets = self.split.inputs[start:end], self.split.targets[start:end]
            if self.cuda:
                inputs, targets = inputs.pin_memory(), targets.pin_memory()
            yield inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)

    def _to_device(self, loader: DataLoader) -> Batches:
        for inputs, targets in loader:
            yield inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)


CHUNK_BYTES = 2**20  # about what one hand-over between processes should carry


def chunk_batches(split: Split, batch_size: int, workers: int) -> int:
    """How many batches a worker reads at once: about CHUNK_BYTES a hand-over, and at least 4 hand-overs per
    worker and epoch so that the workers still take turns (1 without workers: nothing is handed over)."""
    if workers == 0 or len(split) == 0:
        return 1
    per_sample = (split.inputs.nbytes + split.targets.nbytes) / len(split)
    by_size = max(1, int(CHUNK_BYTES // max(1.0, per_sample * batch_size)))
    batches = -(-len(split) // batch_size)
    return max(1, min(by_size, batches // (4 * workers)))


class EpochBatches(Sampler):
    """Batches of indices: the epoch's shuffle (as InMemory cuts it), or the split in order.

    With `world` > 1 (data-parallel training) it is the distributed sampler: rank r gets every world-th sample
    of each batch (`batch[r::world]`), so the ranks' shares of step i make up the single-process run's batch i,
    whatever the number of workers. `chunk` batches are handed out as one index tensor (Streamed cuts them).
    """

    def __init__(
        self, n: int, batch_size: int, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1, chunk: int = 1
    ):
        self.n, self.batch_size, self.seed, self.shuffle, self.epoch = n, batch_size, seed, shuffle, 0
        self.rank, self.world, self.chunk = rank, world, chunk

    def __len__(self) -> int:
        return -(-self.n // (self.batch_size * self.chunk))

    def sizes(self) -> list[int]:
        """This rank's number of samples in each batch of an epoch (0 where a short last batch has none for it)."""
        full, last = divmod(self.n, self.batch_size)
        batches = [self.batch_size] * full + ([last] if last else [])
        return [len(range(self.rank, b, self.world)) for b in batches]

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = epoch_order(self.n, self.seed, self.epoch) if self.shuffle else torch.arange(self.n)
        batches = order.split(self.batch_size)
        if self.world > 1:
            batches = [batch[self.rank :: self.world] for batch in batches]
        return (torch.cat(batches[i : i + self.chunk]) for i in range(0, len(batches), self.chunk))


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
