"""`studio train ...` subcommands: vae, diffusion, export, sr."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any


def _add_dataclass_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """Expose every dataclass field as ``--field-name`` with its default."""
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"),
                                default=default)
        elif isinstance(default, tuple | list):
            kind = type(default[0]) if default else str
            kind = (lambda s: s.lower() in ("1", "true")) if kind is bool else kind
            parser.add_argument(flag, type=kind, nargs="*", default=default)
        elif default is None:
            parser.add_argument(flag, default=None, type=lambda s: None if s == "none" else s)
        else:
            parser.add_argument(flag, type=type(default), default=default)


def _config(cls: type, args: argparse.Namespace) -> Any:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if isinstance(values[f.name], list) and not isinstance(f.default, list):
            values[f.name] = tuple(values[f.name])
    return cls(**values)


def _run_vae(args: argparse.Namespace) -> int:
    from studio.training.vae import VAEConfig, train_vae

    print(train_vae(_config(VAEConfig, args)))
    return 0


def _run_diffusion(args: argparse.Namespace) -> int:
    from studio.training.trainer import TrainConfig, Trainer

    trainer = Trainer(_config(TrainConfig, args))
    if trainer.resume():
        print(f"resumed at step {trainer.step}")
    trainer.train()
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from studio.training.export import export_checkpoint

    print(export_checkpoint(Path(args.run), Path(args.out), args.scheduler))
    return 0


def _run_sr(args: argparse.Namespace) -> int:
    from studio.training.sr import SRConfig, train_sr

    print(train_sr(_config(SRConfig, args)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``studio train {vae,diffusion,export,sr}``."""
    from studio.training.sr import SRConfig
    from studio.training.trainer import TrainConfig
    from studio.training.vae import VAEConfig

    train = subparsers.add_parser("train", help="train models (VAE, text-to-image, SR)")
    sub = train.add_subparsers(dest="train_command", metavar="MODEL", required=True)
    for name, cls, func, text in (
        ("vae", VAEConfig, _run_vae, "train the AutoencoderKL"),
        ("diffusion", TrainConfig, _run_diffusion, "DDPM text-to-image training"),
        ("sr", SRConfig, _run_sr, "train the residual super-resolution network"),
    ):
        parser = sub.add_parser(name, help=text)
        _add_dataclass_args(parser, cls)
        parser.set_defaults(func=func)
    export = sub.add_parser("export", help="export a diffusion run as a Stable Diffusion folder")
    export.add_argument("--run", default="runs/emoji-sd")
    export.add_argument("--out", default="resources/models/emoji-sd")
    export.add_argument("--scheduler", default="euler_a")
    export.set_defaults(func=_run_export)
