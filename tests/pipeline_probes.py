"""A pipeline wrapper that counts the engine's steps, for tests of the batch loop."""

from __future__ import annotations


class Counting:
    """Forwards to a pipeline, counting how often a batch is screened (decoded) and planned."""

    def __init__(self, pipeline):
        self.pipeline, self.screened, self.planned = pipeline, 0, 0

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def screen(self, batch, stop=None):
        self.screened += 1
        return self.pipeline.screen(batch, stop)

    def plan(self, batch, batch_id, table):
        self.planned += 1
        return self.pipeline.plan(batch, batch_id, table)
