"""Our port of VALL-E X's networks (Plachtaa/VALL-E-X `models/vallex.py::VALLE`, `modules/*`), for inference.

Parameter names are those of the released `vallex-checkpoint.pt` (`["model"]`), so the file loads
unchanged with `strict=True`: `ar_*` is the autoregressive model (12 pre-norm transformer layers over
[phonemes | BOS, codebook-1 tokens], text attending to text only, audio causally to everything before
it), `nar_*` the non-autoregressive one (12 layers, full attention, every LayerNorm made adaptive to
the stage by `nar_stage_embeddings`), which fills codebooks 2-8 one pass each. As in the release,
`nar_predict_layers.{0..5}` share their weights with `nar_audio_embeddings.{2..7}`.

The released hyperparameters are fixed (width 1024, 16 heads, 12 layers, 8 codebooks); the config is
read from the checkpoint's shapes so the same loader reads small test checkpoints. The number of
heads is not stored, so it follows the rule the release satisfies: one head per 64 channels
(`HEAD_DIM`); small configs obey the same rule.

Numerics follow the official inference path operation for operation where sampling depends on them
(the AR's cached attention is the explicit softmax(q k^T / sqrt(d)) v of `modules/activation.py`), so
that with the same seed the sampled tokens are the same; the NAR, whose tokens are argmax choices,
uses `scaled_dot_product_attention` as torch's MultiheadAttention does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NUM_TEXT_TOKENS = 2048
NUM_AUDIO_TOKENS = 1024  # EnCodec codebook size; id 1024 is the AR's end of speech, 1025 its BOS
EOS = NUM_AUDIO_TOKENS
BOS = NUM_AUDIO_TOKENS + 1
NUM_QUANTIZERS = 8
NUM_LANGUAGES = 3  # en, zh, ja
HEAD_DIM = 64


@dataclass(frozen=True)
class Config:
    width: int = 1024
    layers: int = 12

    @property
    def heads(self) -> int:
        return max(1, self.width // HEAD_DIM)

    @classmethod
    def from_state_dict(cls, state: dict) -> Config:
        width = state["ar_text_embedding.word_embeddings.weight"].shape[1]
        layers = len({key.split(".")[2] for key in state if key.startswith("ar_decoder.layers.")})
        return cls(width=int(width), layers=layers)


class TokenEmbedding(nn.Module):
    def __init__(self, width: int, vocab: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, width)

    @property
    def weight(self) -> torch.Tensor:
        return self.word_embeddings.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.word_embeddings(ids)


class SinePositionalEmbedding(nn.Module):
    """Sinusoidal positions scaled by a learned `alpha`; the table is built for at least 4000
    positions (as the release builds it, so values agree to the last bit) and grown when needed."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.alpha = nn.Parameter(torch.ones(1), requires_grad=False)
        self._table: torch.Tensor | None = None

    def table(self, length: int, like: torch.Tensor) -> torch.Tensor:
        if self._table is None or self._table.shape[0] < length:
            position = torch.arange(0, max(length, 4000), dtype=torch.float32).unsqueeze(1)
            rate = torch.exp(torch.arange(0, self.width, 2, dtype=torch.float32) * -(math.log(10000.0) / self.width))
            table = torch.zeros(position.shape[0], self.width)
            table[:, 0::2] = torch.sin(position * rate)
            table[:, 1::2] = torch.cos(position * rate)
            self._table = table
        if self._table.device != like.device or self._table.dtype != like.dtype:
            self._table = self._table.to(device=like.device, dtype=like.dtype)
        return self._table

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (B, T, D) at positions start..start+T-1."""
        steps = x.shape[1]
        return x + self.alpha * self.table(start + steps, x)[start:start + steps].unsqueeze(0)


class AdaptiveLayerNorm(nn.Module):
    """LayerNorm whose gain and bias come from the NAR stage embedding."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.project_layer = nn.Linear(width, 2 * width)
        self.norm = nn.LayerNorm(width)
        self.width = width

    def forward(self, x: torch.Tensor, stage: torch.Tensor) -> torch.Tensor:
        gain, bias = torch.split(self.project_layer(stage), self.width, dim=-1)
        return gain * self.norm(x) + bias


class MultiheadAttention(nn.Module):
    """Packed-projection self-attention with the names of torch's nn.MultiheadAttention."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, steps, width = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        shape = (batch, steps, self.heads, width // self.heads)
        return tuple(t.view(shape).transpose(1, 2) for t in (q, k, v))

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        batch, _, steps, head = y.shape
        return self.out_proj(y.transpose(1, 2).contiguous().view(batch, steps, self.heads * head))

    def cached(self, x: torch.Tensor, mask: torch.Tensor | None, past: tuple | None) -> tuple[torch.Tensor, tuple]:
        """The AR's step: new queries against past and new keys; `mask` (True = blocked) for the
        new rows, None when nothing is blocked."""
        q, k, v = self._split(x)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=-2), torch.cat([past[1], v], dim=-2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        return self._merge(F.softmax(scores, dim=-1) @ v), (k, v)

    def step(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, length: int) -> torch.Tensor:
        """The AR's step on a preallocated cache: the new position's key and value are written in place
        at `length` (no re-concatenation of the whole past each step), then the same explicit softmax
        as `cached` over positions 0..length. x (1, 1, D); keys, values (1, H, capacity, D / H)."""
        q, k, v = self._split(x)
        keys[:, :, length:length + 1].copy_(k)
        values[:, :, length:length + 1].copy_(v)
        k, v = keys[:, :, :length + 1], values[:, :, :length + 1]
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        return self._merge(F.softmax(scores, dim=-1) @ v)

    def forward(self, x: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        """Full attention (the NAR); `rows`: only the last `rows` positions' outputs (all keys)."""
        q, k, v = self._split(x)
        if rows is not None:
            q = q[:, :, -rows:]
        return self._merge(F.scaled_dot_product_attention(q, k, v))


class TransformerLayer(nn.Module):
    """Pre-norm layer: x + attn(norm1(x)), then x + ff(norm2(x)); the NAR's norms are adaptive."""

    def __init__(self, width: int, heads: int, adaptive: bool) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(width, heads)
        self.linear1 = nn.Linear(width, 4 * width)
        self.linear2 = nn.Linear(4 * width, width)
        self.norm1 = AdaptiveLayerNorm(width) if adaptive else nn.LayerNorm(width)
        self.norm2 = AdaptiveLayerNorm(width) if adaptive else nn.LayerNorm(width)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(F.relu(self.linear1(x)))

    def cached(self, x: torch.Tensor, mask: torch.Tensor | None, past: tuple | None) -> tuple[torch.Tensor, tuple]:
        attended, kv = self.self_attn.cached(self.norm1(x), mask, past)
        x = x + attended
        return x + self.feed_forward(self.norm2(x)), kv

    def step(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, length: int) -> torch.Tensor:
        x = x + self.self_attn.step(self.norm1(x), keys, values, length)
        return x + self.feed_forward(self.norm2(x))

    def forward(self, x: torch.Tensor, stage: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        """`rows`: compute only the last `rows` positions (the NAR's last layer, whose other outputs
        nobody reads)."""
        attended = self.self_attn(self.norm1(x, stage), rows)
        x = (x if rows is None else x[:, -rows:]) + attended
        return x + self.feed_forward(self.norm2(x, stage))


class Decoder(nn.Module):
    def __init__(self, width: int, heads: int, layers: int, adaptive: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList([TransformerLayer(width, heads, adaptive) for _ in range(layers)])
        self.norm = AdaptiveLayerNorm(width) if adaptive else nn.LayerNorm(width)


Sampler = Callable[[torch.Tensor], torch.Tensor]  # logits (1, V) -> token (1, 1)


class VallEX(nn.Module):
    """VALLE(d_model, nhead, num_layers, norm_first=True, add_prenet=False, prefix_mode=1,
    share_embedding=True, nar_scale_factor=1.0, prepend_bos=True, num_quantizers=8), for inference."""

    def __init__(self, config: Config = Config()) -> None:
        super().__init__()
        width, heads, layers = config.width, config.heads, config.layers
        self.config = config
        self.ar_text_embedding = TokenEmbedding(width, NUM_TEXT_TOKENS)
        self.nar_text_embedding = TokenEmbedding(width, NUM_TEXT_TOKENS)
        self.ar_audio_embedding = TokenEmbedding(width, NUM_AUDIO_TOKENS + 2)  # + EOS, BOS
        self.ar_text_position = SinePositionalEmbedding(width)
        self.ar_audio_position = SinePositionalEmbedding(width)
        self.ar_decoder = Decoder(width, heads, layers, adaptive=False)
        self.ar_predict_layer = nn.Linear(width, NUM_AUDIO_TOKENS + 1, bias=False)
        self.nar_audio_embeddings = nn.ModuleList(
            [TokenEmbedding(width, NUM_AUDIO_TOKENS + 1)]
            + [TokenEmbedding(width, NUM_AUDIO_TOKENS) for _ in range(NUM_QUANTIZERS - 1)])
        self.nar_text_position = SinePositionalEmbedding(width)
        self.nar_audio_position = SinePositionalEmbedding(width)
        self.nar_decoder = Decoder(width, heads, layers, adaptive=True)
        self.nar_predict_layers = nn.ModuleList(
            [nn.Linear(width, NUM_AUDIO_TOKENS, bias=False) for _ in range(NUM_QUANTIZERS - 1)])
        self.nar_stage_embeddings = nn.ModuleList([TokenEmbedding(width, 1) for _ in range(NUM_QUANTIZERS - 1)])
        for j in range(NUM_QUANTIZERS - 2):  # the release ties stage j's output to codebook j+2's input
            self.nar_predict_layers[j].weight = self.nar_audio_embeddings[j + 2].word_embeddings.weight
        self.ar_language_embedding = TokenEmbedding(width, NUM_LANGUAGES)
        self.nar_language_embedding = TokenEmbedding(width, NUM_LANGUAGES)

    def _text(self, embedding: TokenEmbedding, language: TokenEmbedding, position: SinePositionalEmbedding,
              text: torch.Tensor, enroll: int, prompt_language: int, text_languages: torch.Tensor) -> torch.Tensor:
        """Phoneme embeddings plus the prompt's language on the transcript's tokens and each target
        token's language on the rest, then positions."""
        x = embedding(text)
        x[:, :enroll] += language(torch.tensor([prompt_language], device=text.device))
        x[:, enroll:] += language(text_languages)
        return position(x)

    def generate_first(self, text: torch.Tensor, enroll: int, prompt: torch.Tensor, prompt_language: int,
                       text_languages: torch.Tensor, sample: Sampler, max_frames: int,
                       on_step: Callable[[int], None] | None = None, fast: bool = True) -> torch.Tensor:
        """The AR: codebook-1 tokens after the prompt's, until EOS, 16 per text token (the release's
        cap) or `max_frames`. text (1, L) with the transcript's `enroll` tokens first; prompt (1, P, 8).
        Returns (N,) tokens. `fast` keeps the keys and values in a preallocated cache written in place;
        False is the reference path (a cache concatenated anew each step); both compute the same logits."""
        x = self._text(self.ar_text_embedding, self.ar_language_embedding, self.ar_text_position,
                       text, enroll, prompt_language, text_languages)
        text_len = text.shape[1]
        audio = F.pad(prompt[..., 0], (1, 0), value=BOS)  # BOS, prompt tokens
        audio_len = audio.shape[1]
        xy = torch.cat([x, self.ar_audio_position(self.ar_audio_embedding(audio))], dim=1)
        mask = torch.zeros(text_len + audio_len, text_len + audio_len, dtype=torch.bool, device=text.device)
        mask[:text_len, text_len:] = True  # text sees text only
        mask[text_len:, text_len:] = torch.triu(torch.ones(audio_len, audio_len, dtype=torch.bool,
                                                           device=text.device), diagonal=1)
        past: list = [None] * len(self.ar_decoder.layers)
        for i, layer in enumerate(self.ar_decoder.layers):  # the prompt, in one pass
            xy, past[i] = layer.cached(xy, mask, past[i])
        cap = text_len * 16
        step = self._static_steps(past, min(cap, max_frames)) if fast else self._concat_steps(past)
        generated: list[torch.Tensor] = []
        while True:
            token = sample(self.ar_predict_layer(self.ar_decoder.norm(xy[:, -1])))
            if int(token) == EOS or len(generated) >= cap:
                break
            generated.append(token[0])
            if on_step is not None:
                on_step(len(generated))
            if len(generated) >= max_frames:
                break
            position = audio_len + len(generated) - 1
            xy = step(self.ar_audio_position(self.ar_audio_embedding(token), start=position))
        if not generated:
            return torch.zeros(0, dtype=torch.long, device=text.device)
        return torch.cat(generated).long()

    def _concat_steps(self, past: list) -> Callable[[torch.Tensor], torch.Tensor]:
        """The reference step: each layer concatenates its past keys and values with the new ones."""

        def step(xy: torch.Tensor) -> torch.Tensor:
            for i, layer in enumerate(self.ar_decoder.layers):
                xy, past[i] = layer.cached(xy, None, past[i])  # one new position sees everything before it
            return xy

        return step

    def _static_steps(self, past: list, steps: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """The fast step: the prompt pass's keys and values copied once into buffers with room for
        `steps` more positions, each step writing one position in place."""
        batch, heads, length, head = past[0][0].shape
        shape = (batch, heads, length + steps, head)
        like = past[0][0]
        caches = []
        for keys, values in past:
            buffers = (like.new_empty(shape), like.new_empty(shape))
            buffers[0][:, :, :length].copy_(keys)
            buffers[1][:, :, :length].copy_(values)
            caches.append(buffers)
        filled = [length]

        def step(xy: torch.Tensor) -> torch.Tensor:
            for layer, (keys, values) in zip(self.ar_decoder.layers, caches, strict=True):
                xy = layer.step(xy, keys, values, filled[0])
            filled[0] += 1
            return xy

        return step

    def generate_rest(self, text: torch.Tensor, enroll: int, prompt: torch.Tensor, prompt_language: int,
                      text_languages: torch.Tensor, first: torch.Tensor,
                      on_stage: Callable[[int], None] | None = None, fast: bool = True) -> torch.Tensor:
        """The NAR: codebooks 2-8 for the generated frames, greedy, one pass per codebook, the prompt's
        8 codebooks as prefix. first (N,) -> codes (N, 8). `fast`: the last layer computes only the
        generated frames' rows (the text's and prompt's are never read)."""
        prompt_len = prompt.shape[1]
        x = self._text(self.nar_text_embedding, self.nar_language_embedding, self.nar_text_position,
                       text, enroll, prompt_language, text_languages)
        text_len = text.shape[1]
        y = self.nar_audio_embeddings[0](torch.cat([prompt[0, :, 0].long(), first])[None])
        for j in range(1, NUM_QUANTIZERS):
            y[:, :prompt_len] += self.nar_audio_embeddings[j](prompt[..., j])
        codes = [first]
        for i, predict in enumerate(self.nar_predict_layers):
            stage = self.nar_stage_embeddings[i].weight
            h = torch.cat([x, self.nar_audio_position(y)], dim=1)
            *layers, last = self.nar_decoder.layers
            for layer in layers:
                h = layer(h, stage)
            h = last(h, stage, rows=first.shape[0]) if fast else last(h, stage)[:, text_len + prompt_len:]
            tokens = predict(self.nar_decoder.norm(h, stage)).argmax(dim=-1)
            codes.append(tokens[0])
            if i < NUM_QUANTIZERS - 2:
                y[:, prompt_len:] += self.nar_audio_embeddings[i + 1](tokens)
            if on_stage is not None:
                on_stage(i + 2)
        return torch.stack(codes, dim=-1)


def top_k_top_p(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Keep the top-k logits, then the smallest set whose probability reaches top_p (the release's
    `top_k_top_p_filtering`: the token that crosses the threshold is kept)."""
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]))[0][..., -1, None]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        drop = torch.cumsum(F.softmax(ordered, dim=-1), dim=-1) > top_p
        drop[..., 1:] = drop[..., :-1].clone()
        drop[..., 0] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sampler(temperature: float, top_k: int, top_p: float) -> Sampler:
    def sample(logits: torch.Tensor) -> torch.Tensor:
        if temperature != 1.0:
            logits = logits / temperature
        probs = F.softmax(top_k_top_p(logits, top_k, top_p), dim=-1)
        return torch.multinomial(probs, num_samples=1)

    return sample
