"""Mini-batch iterator with every DataLoader knob of the plan, and resumable mid-epoch.

ESPnet's ``SequenceIterFactory`` builds a new DataLoader per epoch with ``pin_memory`` tied
to ``ngpu > 0`` and no ``prefetch_factor`` / ``persistent_workers``. :class:`TSDiaIterFactory`
takes ESPnet's dataset and batch sampler (built by ESPnet's own
``build_sequence_iter_factory``) and adds:

- ``num_workers``, ``pin_memory``, ``prefetch_factor``, ``persistent_workers`` passed to the
  DataLoader; with persistent workers one DataLoader lives for the whole run and each epoch
  swaps its batch list (workers are started once);
- ``build_iter(epoch, start=k)``: the epoch's batches from the k-th on, so a run resumed
  from a mid-epoch checkpoint sees exactly the batches an uninterrupted run would;
- every example is loaded inside :func:`~espnet2_tsdia.examples.datatypes.enrollment_epoch`
  of its data epoch (the epoch travels with the key through the sampler, so persistent workers
  see it too): random enrollments depend on (key, epoch) only, the same in one process, on DDP
  ranks and in DataLoader workers.

The epoch's batch order is ESPnet's: ``sampler.generate(epoch + seed)`` shuffled with
``RandomState(epoch + seed)``.
"""

from __future__ import annotations

import logging
import random
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from espnet2.iterators.abs_iter_factory import AbsIterFactory
from torch.utils.data import DataLoader

from espnet2_tsdia.examples.datatypes import enrollment_epoch

logger = logging.getLogger(__name__)

#: ``batch_shim`` pads the time axis of every padded tensor to a multiple of this.
SHIM_MULTIPLE = 64


def _seed_worker(worker_id: int, base_seed: int = 0) -> None:
    random.seed(base_seed + worker_id)
    np.random.seed((base_seed + worker_id) % 2**32)


class _EpochItems:
    """ESPnet's dataset read with ``(epoch, key)`` items: each example loads inside
    :func:`enrollment_epoch` of its data epoch."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __getitem__(self, item: Tuple[int, str]):
        epoch, key = item
        with enrollment_epoch(epoch):
            return self.dataset[key]


class _BatchList:
    """A batch sampler whose list of batches can be swapped between epochs."""

    def __init__(self):
        self.batches: List[Sequence[Any]] = []

    def __iter__(self):
        return iter(list(self.batches))

    def __len__(self):
        return len(self.batches)


class BatchShim:
    """Collate wrapper (plan ``performance.batch_shim``): pads the time axis (dim 1) of every
    ``(B, T, ...)`` tensor that has a ``<name>_lengths`` companion up to a multiple of
    ``multiple`` frames, so batch shapes come from a small set (fewer ``torch.compile``
    recompilations and allocator fragmentation). Lengths are unchanged; index labels are padded
    with -1, everything else with 0."""

    def __init__(self, collate_fn: Callable, *, multiple: int = SHIM_MULTIPLE):
        if multiple < 1:
            raise ValueError(f"batch_shim multiple must be >= 1, got {multiple}")
        self.collate_fn = collate_fn
        self.multiple = multiple

    def __call__(self, data):
        keys, batch = self.collate_fn(data)
        out = dict(batch)
        for name, x in batch.items():
            if name.endswith("_lengths") or f"{name}_lengths" not in batch or x.dim() < 2:
                continue
            t = x.size(1)
            target = -(-t // self.multiple) * self.multiple
            if target == t:
                continue
            pad_value = -1 if not torch.is_floating_point(x) else 0.0
            pad = x.new_full((x.size(0), target - t, *x.shape[2:]), pad_value)
            out[name] = torch.cat([x, pad], dim=1)
        return keys, out


class TSDiaIterFactory(AbsIterFactory):
    """Epoch iterator over ESPnet batches with the plan's DataLoader options.

    Args:
        dataset: an ESPnet dataset (``dataset[key] -> (key, data)``).
        sampler: ESPnet batch sampler (``generate(seed)`` -> list of key tuples) or a list of
            batches.
        seed: base seed (ESPnet ``--seed``).
        shuffle: shuffle batches per epoch (training).
        collate_fn: ESPnet collate function.
        num_workers, pin_memory, prefetch_factor, persistent_workers: DataLoader options
            (``prefetch_factor`` / ``persistent_workers`` need ``num_workers > 0``).
    """

    def __init__(
        self,
        *,
        dataset,
        sampler,
        seed: int = 0,
        shuffle: bool = False,
        collate_fn: Optional[Callable] = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: Optional[int] = None,
        persistent_workers: bool = False,
    ):
        if num_workers < 0:
            raise ValueError(f"training.performance.num_workers must be >= 0, got {num_workers}")
        if num_workers == 0 and (prefetch_factor is not None or persistent_workers):
            raise ValueError(
                "training.performance.prefetch_factor / persistent_workers need num_workers > 0, got "
                f"num_workers=0, prefetch_factor={prefetch_factor}, persistent_workers={persistent_workers}"
            )
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(f"training.performance.prefetch_factor must be >= 1, got {prefetch_factor}")
        self.dataset = dataset
        self.sampler = sampler
        self.seed = seed
        self.shuffle = shuffle
        self.collate_fn = collate_fn
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self._persistent: Optional[Tuple[DataLoader, _BatchList]] = None

    def epoch_batches(self, epoch: int, shuffle: Optional[bool] = None) -> List[Sequence[Any]]:
        """The batches of ``epoch`` in the order they are served."""
        shuffle = self.shuffle if shuffle is None else shuffle
        if hasattr(self.sampler, "generate"):
            batches = list(self.sampler.generate(epoch + self.seed))
        else:
            batches = list(self.sampler)
        if shuffle:
            np.random.RandomState(epoch + self.seed).shuffle(batches)
        return batches

    def dataloader_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments given to ``torch.utils.data.DataLoader``."""
        kwargs: Dict[str, Any] = dict(num_workers=self.num_workers, pin_memory=self.pin_memory)
        if self.collate_fn is not None:
            kwargs["collate_fn"] = self.collate_fn
        if self.num_workers > 0:
            kwargs["persistent_workers"] = self.persistent_workers
            if self.prefetch_factor is not None:
                kwargs["prefetch_factor"] = self.prefetch_factor
        return kwargs

    def build_iter(self, epoch: int, shuffle: Optional[bool] = None, start: int = 0) -> DataLoader:
        batches = [[(epoch, key) for key in batch] for batch in self.epoch_batches(epoch, shuffle)[start:]]
        if self.persistent_workers:
            if self._persistent is None:
                holder = _BatchList()
                loader = DataLoader(
                    dataset=_EpochItems(self.dataset),
                    batch_sampler=holder,
                    worker_init_fn=partial(_seed_worker, base_seed=self.seed),
                    generator=torch.Generator().manual_seed(self.seed),
                    **self.dataloader_kwargs(),
                )
                self._persistent = (loader, holder)
            loader, holder = self._persistent
            holder.batches = batches
            return loader
        return DataLoader(
            dataset=_EpochItems(self.dataset),
            batch_sampler=batches,
            worker_init_fn=partial(_seed_worker, base_seed=epoch + self.seed),
            # Its own generator: creating the iterator must not consume the global torch RNG,
            # or a run resumed mid-epoch would draw different dropout masks.
            generator=torch.Generator().manual_seed(epoch + self.seed),
            **self.dataloader_kwargs(),
        )

    def num_batches(self, epoch: int) -> int:
        return len(self.epoch_batches(epoch))
