"""`studio data ...` subcommands: build training sets from Debian packages."""

from __future__ import annotations

import argparse
from pathlib import Path


def _emoji(args: argparse.Namespace) -> int:
    from studio.data.emoji import build_emoji_dataset

    try:
        count = build_emoji_dataset(Path(args.out), size=args.size, limit=args.limit)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 1
    print(f"rendered {count} emoji into {args.out}")
    return 0


def _photos(args: argparse.Namespace) -> int:
    from studio.data.photos import build_photo_dataset

    try:
        counts = build_photo_dataset(Path(args.out), max_side=args.max_side)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 1
    print(f"wrote {counts['train']} training and {counts['eval']} held-out photos to {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``studio data {emoji,photos}``."""
    data = subparsers.add_parser("data", help="build training data sets")
    sub = data.add_subparsers(dest="data_command", metavar="RECIPE", required=True)
    emoji = sub.add_parser("emoji", help="render Noto Color Emoji with Unicode captions")
    emoji.add_argument("--out", default="data/emoji")
    emoji.add_argument("--size", type=int, default=64)
    emoji.add_argument("--limit", type=int, default=None, help="only the first N (testing)")
    emoji.set_defaults(func=_emoji)
    photos = sub.add_parser("photos", help="collect photographs from Debian wallpaper packages")
    photos.add_argument("--out", default="data/photos")
    photos.add_argument("--max-side", type=int, default=768)
    photos.set_defaults(func=_photos)
