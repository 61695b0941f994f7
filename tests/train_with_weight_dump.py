"""Test helper, not a test: the training CLI (train.train, same flags) plus a hook that writes every model weight
and the step to the .npz file named by $WAVEBABBLE_TEST_DUMP after the last step (multi-worker tests compare
the workers' copies)."""
import os

import numpy as np

from train import train as train_cli
from wavebabble import runtime
from wavebabble.cli import run_main
from wavebabble.train_loop import Hook


class DumpWeightsAtEnd(Hook):
    def __init__(self, path: str):
        self.path = path

    def begin(self, gan):
        self.gan = gan

    def after_step(self, step, losses, last):
        if last:
            np.savez(self.path, step=step, **self.gan.model_weights())


if __name__ == "__main__":
    runtime.tune("train")
    hook = DumpWeightsAtEnd(os.environ["WAVEBABBLE_TEST_DUMP"])
    run_main(lambda argv: train_cli.main(argv, hooks=[hook]), "train_with_weight_dump")
