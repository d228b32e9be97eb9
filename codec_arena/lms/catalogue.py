"""One row per codec LM, runnable or card: what `codec-arena lms`, the README and the Overview tab show."""

from __future__ import annotations

from dataclasses import asdict

from .base import TASKS
from .cards import CARDS
from .registry import list_lms, weight_spec


def _tasks(keys: tuple[str, ...]) -> str:
    return ", ".join(TASKS.get(k, k) for k in keys)


def rows(with_weights: bool = True) -> list[dict]:
    """Runnable models first (in registry order: the survey's, then later ones), then the cards."""
    out = []
    for info in list_lms():
        row = {"id": info.id, "name": info.name, "runnable": True, "tasks": _tasks(info.tasks),
               "codec": f"{info.codec_id} @ {info.codec_kbps:g} kbps ({info.codebooks} codebooks)",
               "codec_id": info.codec_id, "conditioning": info.conditioning, "parameters": info.parameters,
               "licence": info.licence, "survey": info.survey or "after the survey", "paper": info.paper,
               "hub_id": info.hub_id, "hardware": info.hardware, "why_not_here": "", "try_instead": ""}
        if with_weights:
            path = weight_spec(info.id).path
            row |= {"weights_path": str(path), "weights_present": path.exists()}
        out.append(row)
    for card in CARDS:
        out.append({"id": card.id, "name": card.name, "runnable": False, "tasks": _tasks(card.tasks),
                    "codec": card.codec, "codec_id": card.codec_id, "conditioning": card.conditioning,
                    "parameters": "", "licence": "", "survey": card.survey, "paper": card.paper, "hub_id": "",
                    "hardware": "", "why_not_here": card.why_not_here,
                    "try_instead": ", ".join(card.try_instead)})
    return out


def facts() -> list[dict]:
    """Every field of every runnable model (`codec-arena lms --json`), then the cards."""
    out = []
    for info in list_lms():
        path = weight_spec(info.id).path
        out.append({"runnable": True, **asdict(info), "weights_path": str(path), "weights_present": path.exists()})
    return out + [{"runnable": False, **asdict(card)} for card in CARDS]


def markdown_table() -> str:
    """The README's LM table (a test keeps them equal)."""
    lines = ["| model | runs here | tasks | codec tokens | conditioning | licence / why not here |",
             "|---|---|---|---|---|---|"]
    for row in rows(with_weights=False):
        name = f"`{row['id']}` {row['name']}" if row["runnable"] else row["name"]
        status = "yes" if row["runnable"] else f"card → try {row['try_instead']}"
        last = row["licence"] if row["runnable"] else row["why_not_here"]
        cells = [name, status, row["tasks"], row["codec"], row["conditioning"], last]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
