"""Studio: a local diffusion image studio."""

__version__ = "0.1.0"
