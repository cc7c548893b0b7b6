"""A CLIPTokenizer built from the training captions, and a small CLIPTextModel."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def _byte_alphabet() -> list[str]:
    return sorted(pre_tokenizers.ByteLevel.alphabet())


def learn_merges(captions: Iterable[str], vocab_size: int) -> list[tuple[str, str]]:
    """Learn byte-level BPE merges (CLIP style, ``</w>`` word ends) from the captions."""
    reference = CLIPTokenizer(vocab={BOS: 0, EOS: 1}, merges=[]).backend_tokenizer
    tokenizer = Tokenizer(models.BPE(end_of_word_suffix="</w>", unk_token=EOS))
    tokenizer.normalizer = reference.normalizer
    tokenizer.pre_tokenizer = reference.pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=[BOS, EOS],
        initial_alphabet=_byte_alphabet(),
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(captions), trainer=trainer)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    """Alphabet, alphabet + ``</w>``, merge results (in merge order), then special tokens."""
    tokens: list[str] = []
    seen: set[str] = set()
    alphabet = _byte_alphabet()
    for token in [*alphabet, *(c + "</w>" for c in alphabet), *("".join(m) for m in merges)]:
        if token not in seen:
            seen.add(token)
            tokens.append(token)
    for special in (BOS, EOS):
        tokens.append(special)
    return {token: index for index, token in enumerate(tokens)}


def _usable_merges(merges: list[tuple[str, str]], vocab: dict[str, int]) -> list[tuple[str, str]]:
    return [m for m in merges if m[0] in vocab and m[1] in vocab and "".join(m) in vocab]


def build_tokenizer(
    captions: Iterable[str], folder: Path, vocab_size: int = 4096, max_length: int = 32
) -> CLIPTokenizer:
    """Write vocab.json + merges.txt learned from ``captions`` and load them as a CLIPTokenizer."""
    merges = learn_merges(captions, vocab_size)
    vocab = build_vocab(merges)
    merges = _usable_merges(merges, vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[tuple(m) for m in merges],
                              model_max_length=max_length)
    tokenizer.save_pretrained(folder)
    return CLIPTokenizer.from_pretrained(folder)


def build_text_encoder(
    tokenizer: CLIPTokenizer, hidden: int = 128, layers: int = 3, heads: int = 4
) -> CLIPTextModel:
    """A small CLIP text transformer sized to the caption vocabulary."""
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=tokenizer.model_max_length,
        projection_dim=hidden,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return CLIPTextModel(config)


def tokenize(tokenizer: CLIPTokenizer, captions: list[str]) -> torch.Tensor:
    """Token ids exactly as StableDiffusionPipeline.encode_prompt makes them."""
    return tokenizer(
        captions,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
