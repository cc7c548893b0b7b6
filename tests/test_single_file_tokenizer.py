"""The shipped CLIP tokenizer: a single `.safetensors` loads with no tokenizer folder anywhere."""

from __future__ import annotations

import html
import json

import pytest
import regex

from studio.engine.loading import CLIP_TOKENIZER_DIR, CONFIGS_DIR, shipped_tokenizer

CAT = [49406, 320, 1125, 539, 320, 2368, 49407]  # the original CLIP ids of "a photo of a cat"
PROMPTS = ["a photo of a cat", "Hello, world! It's 2024: 3.5 apples & 12 pears?!",
           "café naïve Ünïcödé 日本語 Привет", "🐱🔥 grinning 😀 face", "a  red\tapple  \n"]
LONG = ", ".join(["a very detailed photograph of a red apple on a wooden table"] * 10)


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    extra = [b for b in range(256) if b not in bs]
    return {**{b: chr(b) for b in bs}, **{b: chr(256 + i) for i, b in enumerate(extra)}}


class ReferenceClip:
    """CLIP's SimpleTokenizer BPE (openai/CLIP), written out here over the shipped merges."""

    PAT = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"""
                        r"""[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)

    def __init__(self) -> None:
        lines = (CLIP_TOKENIZER_DIR / "merges.txt").read_text(encoding="utf-8").splitlines()
        merges = [tuple(line.split()) for line in lines[1:]]
        symbols = list(_bytes_to_unicode().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
        self.encoder = {t: i for i, t in enumerate(vocab + ["<|startoftext|>", "<|endoftext|>"])}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte = _bytes_to_unicode()

    def _bpe(self, token: str) -> list[str]:
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:], strict=False)}
            best = min(pairs, key=lambda p: self.ranks.get(p, 1 << 30))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def encode(self, text: str) -> list[int]:
        text = " ".join(html.unescape(html.unescape(text)).split()).lower()
        ids = [49406]
        for token in regex.findall(self.PAT, text):
            chars = "".join(self.byte[b] for b in token.encode("utf-8"))
            ids += [self.encoder[t] for t in self._bpe(chars)]
        return ids + [49407]


@pytest.fixture(scope="module")
def reference() -> ReferenceClip:
    return ReferenceClip()


SETTINGS = [("sd15/tokenizer", "<|endoftext|>"), ("sd15-inpaint/tokenizer", "<|endoftext|>"),
            ("sd2-v/tokenizer", "!"), ("sd2-inpaint/tokenizer", "!"),
            ("sdxl/tokenizer", "<|endoftext|>"), ("sdxl/tokenizer_2", "!"),
            ("sdxl-inpaint/tokenizer", "<|endoftext|>"), ("sdxl-inpaint/tokenizer_2", "!")]


@pytest.mark.parametrize(("settings", "pad"), SETTINGS)
def test_each_config_gets_clip_with_its_padding(settings: str, pad: str) -> None:
    tokenizer = shipped_tokenizer(CONFIGS_DIR / settings)
    assert len(tokenizer) == 49408 and tokenizer.model_max_length == 77
    assert tokenizer("a photo of a cat")["input_ids"] == CAT
    assert tokenizer.pad_token == pad
    assert tokenizer.pad_token_id == (0 if pad == "!" else 49407)
    padded = tokenizer("cat", padding="max_length", max_length=77)["input_ids"]
    assert padded[:3] == [49406, 2368, 49407] and set(padded[3:]) == {tokenizer.pad_token_id}


@pytest.mark.parametrize("prompt", PROMPTS + [LONG])
def test_ids_match_clips_own_algorithm(prompt: str, reference: ReferenceClip) -> None:
    tokenizer = shipped_tokenizer(CONFIGS_DIR / "sd15" / "tokenizer")
    assert tokenizer(prompt)["input_ids"] == reference.encode(prompt)


def test_reference_gives_the_known_ids(reference: ReferenceClip) -> None:
    assert reference.encode("a photo of a cat") == CAT
    assert reference.encode("A Photo of a CAT!")[:-2] == CAT[:-1]  # lower-cased, "!" extra


@pytest.mark.parametrize("prompt", ["a photo of a cat", "café naïve 日本語 привет",
                                    "🐱🔥 grinning 😀 face"])
def test_words_round_trip(prompt: str) -> None:
    tokenizer = shipped_tokenizer(CONFIGS_DIR / "sd15" / "tokenizer")
    ids = tokenizer(prompt)["input_ids"]
    assert ids[0] == 49406 and ids[-1] == 49407 and len(ids) > 3
    assert tokenizer.decode(ids, skip_special_tokens=True) == prompt.lower()


def test_long_prompts_truncate_to_77_with_bos_and_eos() -> None:
    tokenizer = shipped_tokenizer(CONFIGS_DIR / "sd2-v" / "tokenizer")
    full = tokenizer(LONG)["input_ids"]
    cut = tokenizer(LONG, truncation=True, max_length=tokenizer.model_max_length)["input_ids"]
    assert len(full) > 77 and len(cut) == 77
    assert cut[0] == 49406 and cut[-1] == 49407 and cut[:76] == full[:76]


def test_shipped_files_are_stored_once() -> None:
    assert not list(CONFIGS_DIR.rglob("merges.txt")) and not list(CONFIGS_DIR.rglob("vocab.json"))
    assert (CLIP_TOKENIZER_DIR / "merges.txt").stat().st_size < 600_000
    for name in ("LICENSE-open_clip.txt", "LICENSE-OpenAI-CLIP.txt"):
        assert "Permission is hereby granted" in (CLIP_TOKENIZER_DIR / name).read_text()
    for folder in CONFIGS_DIR.iterdir():
        index = json.loads((folder / "model_index.json").read_text())
        for name, spec in index.items():
            if isinstance(spec, list) and spec[1:] == ["CLIPTokenizer"]:
                assert (folder / name / "tokenizer_config.json").is_file(), (folder, name)
