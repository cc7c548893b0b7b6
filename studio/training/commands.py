"""`studio train ...` subcommands: vae, diffusion, lora, export, sr."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Callable
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


def _run_vae(args: argparse.Namespace, config_cls: type) -> int:
    from studio.training.vae import train_vae

    print(train_vae(_config(config_cls, args)))
    return 0


def _run_diffusion(args: argparse.Namespace, config_cls: type) -> int:
    from studio.training.trainer import Trainer

    trainer = Trainer(_config(config_cls, args))
    if trainer.resume():
        print(f"resumed at step {trainer.step}")
    trainer.train()
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from studio.training.export import export_checkpoint

    try:
        print(export_checkpoint(Path(args.run), Path(args.out), args.scheduler))
    except (ValueError, OSError) as exc:  # a refused or unreadable checkpoint: one line
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _run_sr(args: argparse.Namespace, config_cls: type) -> int:
    from studio.training.sr import train_sr

    print(train_sr(_config(config_cls, args)))
    return 0


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _folder(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"not a folder: {text!r}")
    return text


def _lora_file(text: str) -> str:
    if not text.lower().endswith(".safetensors"):
        raise argparse.ArgumentTypeError(f"must be a .safetensors file: {text!r}")
    return text


def _lora_arguments(parser: argparse.ArgumentParser) -> None:
    """`studio train lora` options (torch is imported only when the command runs)."""
    add = parser.add_argument
    add("--data", type=_folder, required=True, help="images, with optional .txt captions")
    add("--out", type=_lora_file, required=True, help="NAME.safetensors: used as <lora:NAME:1>")
    add("--model", type=_folder, default=None, help="diffusers folder (default: built-in)")
    add("--steps", type=_positive(int), default=400)
    add("--rank", type=_positive(int), default=4)
    add("--lr", type=_positive(float), default=1e-3)
    add("--size", type=_positive(int), default=None, help="default: the model's native size")
    add("--batch-size", type=_positive(int), default=8)
    add("--text-encoder", action="store_true", help="also put adapters on the text encoder")
    add("--caption", default="", help="caption for images without a .txt file")
    add("--snr-gamma", type=float, default=5.0, help="Min-SNR weighting (0: plain MSE)")
    add("--seed", type=int, default=0)
    add("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    add("--save-every", type=_positive(int), default=100)
    add("--work", default="", help="run folder for config.json and log.jsonl "
                                   "(default: runs/lora/NAME)")
    add("--device", default="auto", choices=("auto", "cpu", "cuda"))
    add("--overwrite", action="store_true", help="replace an existing --out file")
    parser.set_defaults(func=_run_lora)


def _run_lora(args: argparse.Namespace) -> int:
    import time

    from studio.training.lora import LoraTrainConfig, train_lora

    if Path(args.out).exists() and not args.overwrite:
        print(f"studio: error: {args.out} exists; choose another --out or add --overwrite",
              file=sys.stderr)
        return 2
    values = {k: v for k, v in vars(args).items() if k in LoraTrainConfig.__dataclass_fields__}
    values = {k: v for k, v in values.items() if v is not None}
    start = time.monotonic()
    try:
        path, losses = train_lora(LoraTrainConfig(**values))
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 1
    first, last = losses[:20], losses[-20:]
    print(f"{path}: {len(losses)} steps in {time.monotonic() - start:.0f} s, loss "
          f"{sum(first) / len(first):.4f} -> {sum(last) / len(last):.4f}; "
          f"use <lora:{path.stem}:1> with the file in a LoRA folder")
    return 0


_MODELS: tuple[tuple[str, str, str, Callable[..., int], str], ...] = (
    ("vae", "studio.training.vae", "VAEConfig", _run_vae, "train the AutoencoderKL"),
    ("diffusion", "studio.training.trainer", "TrainConfig", _run_diffusion,
     "DDPM text-to-image training"),
    ("sr", "studio.training.sr", "SRConfig", _run_sr,
     "train the residual super-resolution network"),
)


class _LazyParser(argparse.ArgumentParser):
    """A subcommand parser that adds its options only when it is used.

    The training configs live in modules that import torch; reading their fields for every
    `studio …` invocation would make `studio --help` take seconds.
    """

    def __init__(self, *args: Any, populate: Callable[[argparse.ArgumentParser], None]
                 | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)
        return super().parse_known_args(args, namespace)


def _config_populator(module: str, cls_name: str, func: Callable[..., int]
                      ) -> Callable[[argparse.ArgumentParser], None]:
    def populate(parser: argparse.ArgumentParser) -> None:
        cls = getattr(importlib.import_module(module), cls_name)
        _add_dataclass_args(parser, cls)
        parser.set_defaults(func=lambda args: func(args, cls))

    return populate


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``studio train {vae,diffusion,lora,export,sr}`` (options load on use)."""
    train = subparsers.add_parser("train", help="train models (VAE, text-to-image, SR)")
    sub = train.add_subparsers(dest="train_command", metavar="MODEL", required=True,
                               parser_class=_LazyParser)
    for name, module, cls_name, func, text in _MODELS:
        sub.add_parser(name, help=text, description=text,
                       populate=_config_populator(module, cls_name, func))
    text = "train a LoRA on a folder of images (the 'images of a specific thing' case)"
    sub.add_parser("lora", help=text, description=text, populate=_lora_arguments)
    export = sub.add_parser("export", help="export a diffusion run as a Stable Diffusion folder")
    export.add_argument("--run", default="runs/emoji-sd")
    export.add_argument("--out", default="resources/models/emoji-sd")
    export.add_argument("--scheduler", default="euler_a")
    export.set_defaults(func=_run_export)
