"""Run tsdia_train with two test-only callbacks registered (for subprocess tests).

Usage (from the repository root):
    python -m test.train.train_with_hooks --config c.yaml --output_dir exp ... \
        --callbacks test_dump_params test_slow --callback_conf "{test_dump_params: {dir: d}, test_slow: {seconds: 0.2}}"

``test_dump_params`` saves every rank's parameters after every optimizer step to
``<dir>/rank<r>.step<s>.pt``; ``test_slow`` sleeps after each step (so a test can kill the run
mid-epoch).
"""

import os
import sys
import time

import torch

from espnet2_tsdia.train.callbacks import TrainCallback, register_callback


@register_callback("test_dump_params")
class DumpParams(TrainCallback):
    def __init__(self, *, dir: str = "."):
        self.dir = dir

    def on_step_end(self, model, optimizers, step, loss):
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        os.makedirs(self.dir, exist_ok=True)
        torch.save(
            {k: v.detach().clone() for k, v in model.state_dict().items()},
            os.path.join(self.dir, f"rank{rank}.step{step}.pt"),
        )


@register_callback("test_slow")
class Slow(TrainCallback):
    def __init__(self, *, seconds: float = 0.1):
        self.seconds = seconds

    def on_step_end(self, model, optimizers, step, loss):
        time.sleep(self.seconds)


if __name__ == "__main__":
    torch.set_num_threads(1)
    from espnet2_tsdia.bin.tsdia_train import main

    main(sys.argv[1:])
