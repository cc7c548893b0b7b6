"""Regenerate CLIP's tokenizer files in `resources/tokenizers/clip/` from the open_clip wheel.

    .venv/bin/python tools/make_clip_tokenizer.py [--wheel open_clip_torch-*.whl] [--check]

`open-clip-torch` (MIT) ships OpenAI CLIP's BPE merges as `open_clip/bpe_simple_vocab_16e6.txt.gz`.
Without `--wheel` the wheel is fetched with `pip download --no-deps` into a temporary folder
(it never becomes a dependency). The files are built exactly as CLIP's `SimpleTokenizer` builds
its table: 256 byte symbols, the same with `</w>`, the first 48,894 merges, then
`<|startoftext|>` and `<|endoftext|>` (49,408 entries). `vocab.json` + `merges.txt` are the
format `transformers.CLIPTokenizer` reads. The result is checked against the original CLIP ids
("a photo of a cat" -> 49406 320 1125 539 320 2368 49407); `--check` only checks the shipped files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "resources" / "tokenizers" / "clip"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
N_MERGES = 49152 - 256 - 2  # CLIP's SimpleTokenizer: merges[1 : 49152 - 256 - 2 + 1]
KNOWN = {"a photo of a cat": [49406, 320, 1125, 539, 320, 2368, 49407]}


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table, in CLIP's order."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def build(bpe_gz: bytes) -> tuple[dict[str, int], list[str]]:
    """(vocab, merge lines) from the gzipped BPE file, as CLIP's SimpleTokenizer builds them."""
    lines = gzip.decompress(bpe_gz).decode("utf-8").split("\n")
    merges = lines[1:N_MERGES + 1]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE or len(tokens) != VOCAB_SIZE:
        raise SystemExit(f"expected {VOCAB_SIZE} distinct tokens, got {len(vocab)}")
    return vocab, merges


def fetch_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "open-clip-torch", "-d", str(folder)], check=True)
    return next(folder.glob("open_clip_torch-*.whl"))


def write(vocab: dict[str, int], merges: list[str], licence: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (target / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                       encoding="utf-8")
    (target / "LICENSE-open_clip.txt").write_text(licence, encoding="utf-8")


def check(target: Path) -> None:
    """Raise SystemExit unless `target` tokenizes like the original CLIP tokenizer."""
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(str(target / "vocab.json"), str(target / "merges.txt"))
    if len(tok) != VOCAB_SIZE:
        raise SystemExit(f"{target}: {len(tok)} tokens, expected {VOCAB_SIZE}")
    for text, ids in KNOWN.items():
        got = tok(text)["input_ids"]
        if got != ids:
            raise SystemExit(f"{text!r} -> {got}, expected {ids}")
    print(f"{target}: {len(tok)} tokens, known ids match")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="an open_clip_torch wheel (else downloaded)")
    parser.add_argument("--check", action="store_true", help="only check the shipped files")
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    if not args.check:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = args.wheel or fetch_wheel(Path(tmp))
            with zipfile.ZipFile(wheel) as archive:
                bpe = archive.read(BPE_MEMBER)
                licence = next(archive.read(n).decode("utf-8") for n in archive.namelist()
                               if n.endswith("licenses/LICENSE") or n.endswith("/LICENSE"))
        vocab, merges = build(bpe)
        write(vocab, merges, licence, args.target)
    check(args.target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
