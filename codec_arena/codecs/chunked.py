"""`ChunkedCodec`: a neural codec written as chunk functions, run over clips (and files) by `stream`.

An adapter sets its facts in `__init__` (info, model, device, checkpoint, hop, contexts) and writes:
- `encode_chunk(x [B, C, n], point) -> tokens [B, K, ceil(n / hop) * unit_frames]` (padding a
  partial last frame as its one-pass call does), optionally with per-unit side data;
- `decode_chunk(tokens [B, K, T], side) -> samples [B, C, about T / unit_frames * hop]` (the engine
  crops, and pads a decoder that returns a few samples short);
- `latent_chunk(x [B, C, n]) -> [B, D, frames]`, the encoder output before quantization (exactness);
- where the codec normalises the whole input, `input_gain(stats)` and `output_gain(codes, stats)`, or
  `first_pass(reader, window_units)` for statistics deeper in the network (given to the chunks as
  `prepared`); `static_extras(point)` for facts every codes file carries.
A unit is a token frame, or a group of frames the model handles as one (EnCodec 48 kHz's segment,
SNAC's padding block): every unit but the clip's last has exactly `unit_frames` frames (the last may
have fewer), and the engine drops whatever a chunk returns past its window (read-ahead included).
Everything else (windows, context, batching, the codes' facts) lives once, here and in `stream`.
"""

from __future__ import annotations

import math
import threading
from typing import ClassVar

import numpy as np

from ..audio import Audio
from . import stream
from .base import Codec, Codes, OperatingPoint

WINDOW_SECONDS = 10.0  # audio per window in memory; clips up to this are one pass
_LOCK_CREATION = threading.Lock()


class ChunkedCodec(Codec):
    hop: int  # input samples per unit (a token frame; EnCodec 48 kHz: one segment's stride)
    context_units: int = 0  # units of real signal each side an encoder window computes and drops
    decode_context_units: int = 0  # the same for the decoder
    unit_frames: int = 1  # token frames per unit
    read_ahead: int = 0  # samples read past a window's last unit (EnCodec 48 kHz's segment overlap)
    exact: ClassVar[bool] = True  # False: recurrent state or global attention, so seams are approximate
    batchable: ClassVar[bool] = False  # the chunk functions take B > 1
    pads_to_frames: ClassVar[bool] = True  # encode_chunk zero-pads a partial frame, so clips of equal
    # frame counts batch exactly; False (EnCodec's reflect padding): only clips of equal length do
    whole_file_gain: ClassVar[bool] = False  # input_gain/output_gain differ from 1 (a first pass is needed)
    whole_input_pass: ClassVar[bool] = False  # first_pass gathers statistics the chunks need (HiFi-Codec)

    _lock: threading.Lock | None = None
    _window_units: int | None = None

    @property
    def window_units(self) -> int:
        """Units per window (WINDOW_SECONDS of audio unless set, e.g. by a test)."""
        default = math.ceil(WINDOW_SECONDS * self.info.sample_rate / self.hop)
        return self._window_units or max(1, default)

    @window_units.setter
    def window_units(self, units: int) -> None:
        self._window_units = units

    @property
    def lock(self) -> threading.Lock:
        """One call at a time on the shared model (several adapters switch state on it)."""
        if self._lock is None:
            with _LOCK_CREATION:  # two first requests must not each make their own
                if self._lock is None:
                    self._lock = threading.Lock()
        return self._lock

    # --- what an adapter writes --------------------------------------------------------------------

    def encode_chunk(self, x: np.ndarray, point: OperatingPoint):
        raise NotImplementedError

    def decode_chunk(self, tokens: np.ndarray, side: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def latent_chunk(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.info.id} does not expose its latent")

    def input_gain(self, stats: stream.SignalStats) -> tuple[float, dict[str, np.ndarray]]:
        """Gain applied to the whole input before encoding, and what decoding needs to undo it."""
        return 1.0, {}

    def output_gain(self, codes: Codes, stats: stream.SignalStats) -> float:
        """Gain applied to the whole decoded output (stats of the decoded signal before it)."""
        return 1.0

    def static_extras(self, point: OperatingPoint) -> dict[str, np.ndarray]:
        """Extras every codes file of this codec carries: each codebook's size where they differ
        (DualCodec, LLM-Codec), and what a subclass adds (SNAC's level strides); {} for most."""
        sizes = self.info.codebook_sizes[: point.codebooks]
        return {"codebook_sizes": np.asarray(sizes, np.int64)} if sizes else {}

    def first_pass(self, reader: stream.Reader, window_units: int) -> dict[str, np.ndarray]:
        """Whole-input statistics gathered over the same windows before encoding (e.g. HiFi-Codec's
        GroupNorms over time); given to encode_chunk/latent_chunk as `prepared`. {}: not needed."""
        return {}

    # --- the Codec interface, through the engine ---------------------------------------------------

    def encode(self, audio: Audio, point: OperatingPoint | float) -> Codes:
        """Audio [C, n] at info.sample_rate -> Codes [K, T], T = ceil(n / hop) frames."""
        point = self.point(point)
        tokens = stream.TokenList()
        with self.lock, inference():
            extras = self.encode_into(stream.ArrayReader(audio.samples), point, tokens)
        return Codes.of(self.info, tokens.tokens(), audio.frames, {**extras, **tokens.extras()})

    def encode_into(self, reader: stream.Reader, point: OperatingPoint, sink: stream.TokenSink,
                    progress: stream.Progress | None = None) -> dict[str, np.ndarray]:
        """The whole encode of what `reader` holds, tokens into `sink`: first passes (gain, statistics),
        then the windows. Returns the extras the codes carry besides the per-unit side data. The caller
        holds the lock and inference mode (a clip, or a file in `codec_arena.files`)."""
        gain, extras = self._gain(reader)
        prepared = self.first_pass(reader, self.window_units) if self.whole_input_pass else None
        stream.encode(self, reader, point, sink, gain, progress=progress, prepared=prepared)
        return {**self.static_extras(point), **extras}

    def decode(self, codes: Codes) -> Audio:
        """Codes [K, T] -> Audio [C, num_samples]."""
        pieces: list[np.ndarray] = []
        with self.lock, inference():
            stream.decode(self, codes.tokens, self.side_of(codes), codes.num_samples, pieces.append)
        return self._as_output(codes, np.concatenate(pieces, axis=1))

    def _as_output(self, codes: Codes, samples: np.ndarray) -> Audio:
        """Decoded samples [C, n] as Audio, with the whole-output gain where the codec has one (files
        get the same gain from a pass over the decoded file, `codec_arena.files`)."""
        if self.whole_file_gain:
            stats = stream.stats_of(stream.ArrayReader(samples), self.info.sample_rate)
            samples = samples * np.float32(self.output_gain(codes, stats))
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), self.info.sample_rate)

    def side_of(self, codes: Codes) -> dict[str, np.ndarray]:
        """The per-unit side data among the codes' extras (arrays with one row per unit)."""
        return {k: np.asarray(codes.extras[k]) for k in self.side_keys if k in codes.extras}

    side_keys: ClassVar[tuple[str, ...]] = ()

    def _gain(self, reader: stream.Reader) -> tuple[float, dict[str, np.ndarray]]:
        if not self.whole_file_gain:
            return 1.0, {}
        return self.input_gain(stream.stats_of(reader, self.info.sample_rate))

    # --- batches -------------------------------------------------------------------------------------

    def encode_batch(self, clips: list[Audio], point: OperatingPoint | float) -> list[Codes]:
        """Clips that fit one window and need the same model input shape go through the model
        together (zero-padded to whole frames where the codec pads so anyway), then are trimmed back:
        equal to one at a time. Longer clips, and codecs whose model takes no batch, loop."""
        point = self.point(point)
        results: dict[int, Codes] = {}
        for key, members in self._groups([clip.frames for clip in clips]).items():
            if not self.batchable or isinstance(key, tuple) or len(members) == 1:
                for i in members:
                    results[i] = self.encode(clips[i], point)
                continue
            length = max(clips[i].frames for i in members)
            padded = length if not self.pads_to_frames else math.ceil(length / self.hop) * self.hop
            x = np.zeros((len(members), clips[members[0]].channels, padded), np.float32)
            gains = []
            for row, i in enumerate(members):
                gain, extras = self._gain(stream.ArrayReader(clips[i].samples))
                x[row, :, : clips[i].frames] = clips[i].samples * np.float32(gain)
                gains.append(extras)
            with self.lock, inference():
                tokens, side = stream._split(self.encode_chunk(x, point))
            for row, i in enumerate(members):
                frames = math.ceil(clips[i].frames / self.hop) * self.unit_frames
                extras = {**self.static_extras(point), **gains[row], **{k: v[row] for k, v in side.items()}}
                results[i] = Codes.of(self.info, tokens[row][:, :frames], clips[i].frames, extras)
        return [results[i] for i in range(len(clips))]

    def decode_batch(self, codes: list[Codes]) -> list[Audio]:
        if not self.batchable:
            return [self.decode(item) for item in codes]
        results: dict[int, Audio] = {}
        groups: dict[tuple[int, int], list[int]] = {}
        for i, item in enumerate(codes):
            fits = item.frames <= self.window_units * self.unit_frames and not self.side_of(item)
            groups.setdefault((item.tokens.shape[0], item.frames) if fits else (-1, i), []).append(i)
        for (_, _), members in groups.items():
            if len(members) == 1:
                results[members[0]] = self.decode(codes[members[0]])
                continue
            tokens = np.stack([codes[i].tokens for i in members])
            with self.lock, inference():
                wav = self.decode_chunk(tokens, {})
            for row, i in enumerate(members):
                samples = wav[row][:, : codes[i].num_samples]
                samples = np.pad(samples, ((0, 0), (0, codes[i].num_samples - samples.shape[1])))
                results[i] = self._as_output(codes[i], samples)
        return [results[i] for i in range(len(codes))]

    def _groups(self, lengths: list[int]) -> dict[object, list[int]]:
        """Indices by what the model would see: equal frame counts (or lengths), one window at most."""
        groups: dict[object, list[int]] = {}
        for i, n in enumerate(lengths):
            fits = stream.units_for(self, n) <= self.window_units
            key = (math.ceil(n / self.hop) if self.pads_to_frames else n) if fits else None
            groups.setdefault(key if key is not None else ("alone", i), []).append(i)
        return groups


def receptive_field(module) -> tuple[float, float]:
    """How far one output step of a stack of convolutions reaches, in input steps (LSTMs and
    GroupNorms aside), and how many input steps one output step is: each convolution adds
    (kernel - 1) x dilation of its input's steps along time (the last axis of a 2-D one), a
    transposed one ceil(kernel / stride) - 1."""
    import torch

    reach, step = 1.0, 1.0  # step: the current signal's period, in input steps
    for layer in module.modules():
        if isinstance(layer, torch.nn.ConvTranspose1d | torch.nn.ConvTranspose2d):
            reach += (math.ceil(layer.kernel_size[-1] / layer.stride[-1]) - 1) * step
            step /= layer.stride[-1]
        elif isinstance(layer, torch.nn.Conv1d | torch.nn.Conv2d):
            reach += (layer.kernel_size[-1] - 1) * layer.dilation[-1] * step
            step *= layer.stride[-1]
    return reach, step


def whole_clip_units(samples: int, codec: ChunkedCodec) -> int:
    """A window size that holds the whole clip: the one-pass reference."""
    return stream.units_for(codec, samples) + 1


def inference():
    import torch

    return torch.inference_mode()
