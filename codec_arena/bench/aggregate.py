"""Per-split and overall statistics of benchmark rows: mean, 95% confidence interval and count.

Codec-SUPERB averages with `nanmean` (a metric that failed on a clip is left out of its mean); so do
we, and `n` says how many clips each mean rests on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .clip import OVERALL


@dataclass(frozen=True)
class Summary:
    mean: float | None
    ci95: float | None  # half-width of the 95% interval (Student's t); None below two values
    n: int  # finite values the mean rests on


def summarise(values: Sequence[float | None]) -> Summary:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return Summary(None, None, 0)
    mean = math.fsum(finite) / n
    if n < 2:
        return Summary(mean, None, n)
    from scipy.stats import t

    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    return Summary(mean, float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n), n)


Groups = dict[tuple[str, str], dict[str, Summary]]  # (point, split) -> metric -> Summary


def aggregate(rows: Iterable[Mapping], metrics: Sequence[str]) -> Groups:
    """rows: finished results with `point`, `split` and a `metrics` mapping. Each row counts in its
    split and in OVERALL (a dataset without splits has only OVERALL)."""
    values: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        splits = {OVERALL, row.get("split") or OVERALL}
        for split in splits:
            for name in metrics:
                values[(row["point"], split)][name].append(row["metrics"].get(name))
    return {key: {name: summarise(found[name]) for name in metrics} for key, found in sorted(values.items())}
