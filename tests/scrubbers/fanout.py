"""The fan-out engine with its batches run in this process: what workers would receive, recorded."""

from __future__ import annotations

from piizone.scrubbers.fan_out import FanOutEngine


class InProcessFanOut(FanOutEngine):
    """The fan-out logic with batches run here, recorded: what a worker would receive."""

    def __init__(self, engine, workers: int):
        super().__init__(engine.policy, workers)
        self._engine = engine
        self.batches: list[list[str]] = []

    def _submit(self, batch):
        self.batches.append(list(batch))
        return self._engine.analyze_windows(batch)

    def _result(self, handle):
        return handle
