"""The Remote engine: a Backend that runs jobs on a `studio serve` server (Qt-free, no torch)."""
