"""`studio serve`: the engine as a Ray Serve application behind an HTTP API (engine side)."""
