"""The optimisation settings of Appendix H.2, a dataclass that the trainer and its pure step
functions both read (it imports nothing of either)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import DLoRError


@dataclass
class TrainConfig:
    """Optimisation settings of Appendix H.2."""

    epochs: int = 50_000
    lr: float = 0.005  # initial Adam learning rate
    patience: int = 200  # ReduceLROnPlateau
    factor: float = 0.5
    min_lr: float = 1e-5
    plateau_threshold: float = 1e-4  # torch's default relative threshold
    success_threshold: float = 1e-3  # Experiment 2: training MSE target
    eval_epochs: tuple[int, ...] = (5_000,)  # also record the test MSE after these epochs
    stop_below: float | None = None  # stop a model once its training MSE is below this
    checkpoint_every: int = 5_000
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    compile: bool = False  # compile each epoch with TorchInductor (needs a C++ compiler)
    # Flush subnormal floats (below 1.2e-38 in float32) to zero while training. As the losses
    # and Adam's second moments shrink they appear in the gradients, and on x86 CPUs every
    # operation on them is slow: without this a compiled deep k=1 group went from 0.35 to
    # 0.68 ms per epoch within 8,000 epochs (measured); with it, 0.32 throughout.
    flush_denormal: bool = True
    # Adam steps per epoch: None = one full-batch step (the reading of the paper's "epoch" this
    # library used first); an integer b = one pass over each model's own shuffle of the training
    # set in ceil(n / b) minibatches, the last one partial (see make_epoch). A b larger than the
    # training set is refused when training starts.
    batch_size: int | None = None
    # intra-op threads while training (torch.set_num_threads, restored afterwards); None leaves
    # the process's setting. Training is chaotic: GEMM kernels split their sums differently with
    # more threads, and after thousands of Adam steps two thread counts can end in different
    # minima. A fixed count makes a group's result the same in any process that trains it.
    threads: int | None = None

    def __post_init__(self):
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1):
            raise DLoRError(f"threads must be a positive integer, or None to keep the process's setting; got {self.threads!r}")
        b = self.batch_size
        if b is not None and (isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1):
            raise DLoRError(f"batch_size must be a positive integer, or None for full batch; got {b!r}")
        if self.batch_size is not None:
            self.batch_size = int(b)
