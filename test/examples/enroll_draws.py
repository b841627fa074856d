"""The enrollments a training iterator of the task draws, per data epoch and key, in one process
or on one DDP rank (gloo). Used by test_ddp_enrollment.py.

Usage:
    python -m test.examples.enroll_draws --example_dir DIR --out OUT.npz --epochs 3 \
        [--world_size 2 --rank 0 --port 29500]
"""

import argparse
from pathlib import Path
from typing import Dict

import numpy as np


def task_args(example_dir: Path, batch_size: int = 4) -> argparse.Namespace:
    """The task's options for training on the stored features of ``example_dir``'s chunks."""
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    chunks = example_dir / "chunks"
    return TSDiarizationTask.get_parser().parse_args(
        [
            "--train_data_path_and_name_and_type",
            f"{chunks},speech,tsdia_feats",
            "--train_data_path_and_name_and_type",
            f"{chunks},enroll,tsdia_enroll_feats",
            "--train_data_path_and_name_and_type",
            f"{chunks},labels,tsdia_labels",
            "--train_shape_file",
            str(example_dir / "chunks.shape"),
            "--batch_type",
            "unsorted",
            "--batch_size",
            str(batch_size),
            "--num_workers",
            "0",
            "--seed",
            "0",
        ]
    )


def draw_enrollments(example_dir: Path, epochs: int, distributed: bool) -> Dict[str, np.ndarray]:
    """``{"<epoch>/<key>": enrollment features}`` of every example this process loads."""
    from espnet2.train.distributed_utils import DistributedOption

    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    args = task_args(example_dir)
    factory = TSDiarizationTask.build_iter_factory(
        args=args, distributed_option=DistributedOption(distributed=distributed), mode="train"
    )
    out = {}
    for epoch in range(1, epochs + 1):
        for keys, batch in factory.build_iter(epoch):
            for i, key in enumerate(keys):
                out[f"{epoch}/{key}"] = batch["enroll"][i, : batch["enroll_lengths"][i]].numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--example_dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--world_size", type=int, default=1)
    parser.add_argument("--rank", type=int, default=0)
    parser.add_argument("--port", type=int, default=29500)
    a = parser.parse_args()
    if a.world_size > 1:
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{a.port}", rank=a.rank, world_size=a.world_size)
    np.savez(a.out, **draw_enrollments(a.example_dir, a.epochs, a.world_size > 1))
    if a.world_size > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
