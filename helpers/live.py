"""Live training progress in a notebook: the loss curve so far and the newest EMA sample grid.

Passed to :meth:`helpers.train.Trainer.train` as ``on_save``, it redraws both at each
save interval in place (IPython display handles), so the output stays two pictures
rather than a log that grows for hours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import DisplayHandle, Image

from helpers.train import Trainer

__all__ = ["LiveProgress"]


class LiveProgress:
    """``on_save`` callback: show ``plot_losses(trainer.losses)`` and the newest ``sample-<step>.png``.

    Args:
        plot_losses: draws a list of losses and returns a matplotlib Figure (TODO 1-2-2).
    """

    def __init__(self, plot_losses: Callable[[Sequence[float]], plt.Figure]) -> None:
        self.plot_losses = plot_losses
        self.curve = DisplayHandle()
        self.grid = DisplayHandle()
        self.shown = False

    def __call__(self, trainer: Trainer) -> None:
        fig = self.plot_losses(trainer.losses)
        fig.suptitle(f"step {trainer.step} of {trainer.config.train_num_steps}")
        grid = Path(trainer.results_folder) / f"sample-{trainer.step}.png"
        # display() the first time, update() after: the same two output areas throughout.
        show = "update" if self.shown else "display"
        getattr(self.curve, show)(fig)
        if grid.is_file():  # a trainer without a sampler draws no grid
            getattr(self.grid, show)(Image(filename=str(grid)))
        plt.close(fig)
        self.shown = True
