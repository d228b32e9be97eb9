"""How a codec uses its codebooks: per-codebook histograms, utilisation, entropy, perplexity.

A codebook whose codes are used evenly carries log2(size) bits per frame; one that keeps picking a
few codes carries far less, and a language model over those tokens sees a smaller real vocabulary.
Entropy is in bits of the empirical code distribution; perplexity = 2^entropy, the "effective
number of codes" (as in the VQ literature, e.g. Dhariwal et al., Jukebox, 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codecs import Codes


@dataclass(frozen=True)
class CodebookUsage:
    index: int
    counts: np.ndarray  # (this codebook's size,) how often each code occurs
    used: int
    utilisation: float  # used / codebook size
    entropy_bits: float
    perplexity: float


@dataclass(frozen=True)
class TokenReport:
    codebooks: list[CodebookUsage]
    tokens_per_second: float
    frames: int
    codebook_size: int

    def summary(self) -> list[dict[str, float]]:
        return [{"codebook": c.index + 1, "used": c.used, "utilisation": round(c.utilisation, 4),
                 "entropy_bits": round(c.entropy_bits, 3), "perplexity": round(c.perplexity, 1)}
                for c in self.codebooks]


def entropy_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum())


def usage(codes: Codes) -> TokenReport:
    """Per-codebook statistics; works for one codebook or many."""
    books = []
    for index, size in enumerate(int(n) for n in codes.sizes):
        row = codes.level(index)
        counts = np.bincount(row, minlength=size)[:size]
        h = entropy_bits(counts)
        books.append(CodebookUsage(index, counts, int((counts > 0).sum()), float((counts > 0).sum()) / size,
                                   h, float(2**h)))
    seconds = codes.num_samples / codes.sample_rate
    return TokenReport(books, codes.token_count / seconds if seconds else 0.0, codes.frames, codes.codebook_size)
