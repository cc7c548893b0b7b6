"""A1111 prompt weighting for SD 1.x, 2.x and SDXL pipelines: weighted, unlimited-length embeds.

The syntax is parsed in `studio.core.prompt_syntax`; this module encodes it as A1111's default
("Original") emphasis does: each chunk of 75 tokens is wrapped in start/end tokens, padded to
the tokenizer's length and encoded on its own; every token's output vector is multiplied by its
weight and the chunk is rescaled to its original mean; the chunks are concatenated. SDXL does
this for both text encoders (penultimate layer, concatenated) and takes the pooled embedding
from the first chunk of the projecting encoder, as A1111 and diffusers do. Positive and
negative prompts are padded to the same number of chunks with empty-prompt chunks.

Only prompts that use the syntax or are longer than one chunk take this path; anything else is
passed to the pipeline as text, exactly as before, so plain prompts give the same pixels.

Why not compel (MIT, used by InvokeAI), measured with compel 2.5.1 on the tiny test models:
it has its own syntax and semantics, so a translation would not give A1111's results. It
weights as `empty + (z - empty) * w` and down-weights by blending with the prompt re-encoded
without the word (an extra encoder pass each), splits long prompts at sentence/phrase
boundaries instead of A1111's 75 tokens with comma backtracking, copies the first chunk's end
token into later chunks and has no BREAK. Its SDXL pooled embedding is computed from the raw
syntax string, so `a (cat)1.0` gets a different pooled vector than `a cat`. It also requires
transformers 5 (Studio supports >= 4.45). The A1111 method is about a hundred lines of code.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from studio.core.prompt_syntax import (
    Break,
    Chunk,
    Segment,
    chunk_tokens,
    parse_prompt_attention,
    uses_syntax,
)


@dataclass(frozen=True)
class _Encoder:
    tokenizer: Any
    model: Any
    penultimate: bool  # SDXL conditions on the penultimate layer, SD 1.x/2.x on the last

    @property
    def chunk_length(self) -> int:
        return int(self.tokenizer.model_max_length) - 2

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False, truncation=False,
                                   verbose=False)["input_ids"])


def _encoders(pipe: Any) -> list[_Encoder]:
    """The pipeline's CLIP tokenizer/encoder pairs; empty when it cannot take prompt embeds."""
    if pipe is None or getattr(pipe, "tokenizer", None) is None:
        return []
    if "prompt_embeds" not in inspect.signature(type(pipe).__call__).parameters:
        return []
    if hasattr(pipe, "text_encoder_2"):
        pairs = [(pipe.tokenizer, pipe.text_encoder),
                 (getattr(pipe, "tokenizer_2", None), pipe.text_encoder_2)]
        return [_Encoder(t, m, True) for t, m in pairs if t is not None and m is not None]
    if getattr(pipe, "text_encoder", None) is None:
        return []
    return [_Encoder(pipe.tokenizer, pipe.text_encoder, False)]


def needs_weighting(pipe: Any, prompt: str, negative: str = "") -> bool:
    """True when a prompt uses A1111 syntax or is longer than one chunk (75 tokens)."""
    encoders = _encoders(pipe)
    if not encoders:
        return False
    texts = [t for t in (prompt, negative) if t]
    if any(uses_syntax(t) for t in texts):
        return True
    return any(len(e.ids(t)) > e.chunk_length for e in encoders for t in texts)


def text_kwargs(pipe: Any, prompt: str, negative: str = "") -> dict:
    """The pipeline's prompt arguments: the text itself, or weighted embeddings when needed."""
    if not needs_weighting(pipe, prompt, negative):
        return dict(prompt=prompt, negative_prompt=negative or None)
    return weighted_embeds(pipe, prompt, negative)


def _chunks(encoder: _Encoder, text: str) -> list[Chunk]:
    parts: list[tuple[Sequence[int], float] | Break] = []
    for part in parse_prompt_attention(text):
        parts.append(part if not isinstance(part, Segment) else
                     (encoder.ids(part.text) if part.text else [], part.weight))
    comma = encoder.tokenizer.get_vocab().get(",</w>")
    return chunk_tokens(parts, encoder.chunk_length, comma)


def weighted_embeds(pipe: Any, prompt: str, negative: str = "") -> dict:
    """`prompt_embeds` (+ negative, + pooled for SDXL) for A1111-syntax prompts of any length."""
    encoders = _encoders(pipe)
    if not encoders:
        raise ValueError(f"{type(pipe).__name__} does not take prompt embeddings")
    xl = hasattr(pipe, "text_encoder_2")
    zero_negative = xl and not negative and getattr(pipe.config, "force_zeros_for_empty_prompt",
                                                    False)
    positive = [_chunks(e, prompt) for e in encoders]
    negatives = [] if zero_negative else [_chunks(e, negative) for e in encoders]
    count = max(len(c) for c in positive + negatives)
    device = pipe._execution_device
    embeds, pooled = _encode(encoders, positive, count, device)
    kwargs: dict = dict(prompt_embeds=embeds)
    if xl:
        kwargs.update(pooled_prompt_embeds=pooled)
    if negatives:
        embeds, pooled = _encode(encoders, negatives, count, device)
        kwargs.update(negative_prompt_embeds=embeds)
        if xl:
            kwargs.update(negative_pooled_prompt_embeds=pooled)
    return kwargs


def _encode(encoders: list[_Encoder], chunks: list[list[Chunk]], count: int,
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each encoder's chunks (padded to `count`) concatenated; features side by side (SDXL)."""
    outputs, pooled = [], None
    with torch.no_grad():
        for encoder, own in zip(encoders, chunks, strict=True):
            padded = own + [Chunk() for _ in range(count - len(own))]
            encoded = [_encode_chunk(encoder, chunk, device) for chunk in padded]
            if pooled is None:
                pooled = encoded[0][1]
            outputs.append(torch.cat([z for z, _ in encoded], dim=1))
    return torch.cat(outputs, dim=-1), pooled


def _encode_chunk(encoder: _Encoder, chunk: Chunk, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor | None]:
    tokenizer = encoder.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    pad = encoder.chunk_length - len(chunk.tokens)
    ids = [tokenizer.bos_token_id, *chunk.tokens, tokenizer.eos_token_id] + [pad_id] * pad
    weights = [1.0, *chunk.weights] + [1.0] * (pad + 1)
    out = encoder.model(torch.tensor([ids], device=device),
                        output_hidden_states=encoder.penultimate)
    z = out.hidden_states[-2] if encoder.penultimate else out[0]
    pooled = out[0] if out[0].ndim == 2 else None
    return emphasize(z, weights), pooled


def emphasize(z: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
    """A1111's "Original" emphasis: scale each token's vector by its weight, keep the mean.

    When either mean is about zero (an encoder whose final layer norm has no bias, as in
    randomly initialised test models) the rescale would zero or blow up the chunk: skipped.
    """
    if all(w == 1.0 for w in weights):
        return z
    scale = torch.tensor(weights, dtype=torch.float32, device=z.device).reshape(1, -1, 1)
    original = z.float()
    weighted = original * scale
    old, new = original.mean(), weighted.mean()
    tiny = 1e-4 * original.abs().mean()
    if old.abs() > tiny and new.abs() > tiny:
        weighted = weighted * (old / new)
    return weighted.to(z.dtype)
