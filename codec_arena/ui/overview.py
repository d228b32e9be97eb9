"""Overview tab: the survey's comparison of codecs as a live table built from `CodecInfo`, each row
with a button that opens that codec in the Compare tab on the current clip."""

from __future__ import annotations

from html import escape
from typing import Any

import gradio as gr

from ..codecs import CodecInfo, codec_info, list_codecs, weight_spec
from ..compare import parse_point
from .inputs import ASSETS

MAX_POINTS = 3  # the opened codec plus the two most recent other choices: a comparison stays quick
EXAMPLE_FOR_DOMAIN = {"music": "music_morning_coffee.wav"}  # everything else starts on speech
DEFAULT_EXAMPLE = "speech_arctic_a0007.wav"

SURVEY_FAMILIES = ("EnCodec", "DAC", "SpeechTokenizer", "HiFi-Codec (AcademiCodec)", "AudioDec", "FunCodec")
GROUPS = ("The six open-source codecs the survey analyses", "Codecs people compare them with today",
          "Continuous tokenizers (float latents, no codebooks)",
          "Tokenizers without a decoder (encode only: tokens, no audio back)", "Classical references")
# what the table shows as columns; Discriminators, Training data and the notes go in a line under each codec,
# so the table reads at 1440 px without scrolling sideways (the API rows keep every field)
COLUMNS = ("Codec", "Quantizer", "Codebooks", "Frame rate", "Sample rate", "Bitrates (kbps)", "Domain", "Licence",
           "Paper", "Weights")
DETAILS = ("Training data", "Discriminators")


def weights_status(info: CodecInfo) -> str:
    """Present, random (test weights), downloadable, or none needed; stat calls only, no model import."""
    from ..weights import presence

    spec = weight_spec(info.id)
    if spec is None:
        return "none needed"
    return {"random": "random test weights", "downloaded": "downloaded",
            "missing": "downloaded on first use"}[presence(spec.path)]


def row(info: CodecInfo) -> dict[str, Any]:
    """One codec as the table (and the `overview` API) shows it."""
    books = f"{info.max_codebooks} × {info.codebook_size}" if info.neural else "—"
    if info.continuous:
        books = f"none ({info.latent_dim} floats per frame)"
    if info.codebook_strides:
        books += f" (strides {', '.join(map(str, info.codebook_strides))})"
    return {
        "Codec": info.id, "Family": info.family, "Quantizer": info.quantizer, "Codebooks": books,
        "Frame rate": info.frame_rate_label, "Sample rate": info.sample_rate_label,
        "Bitrates (kbps)": info.bitrate_summary(), "Domain": info.domain, "Discriminators": info.discriminators or "—",
        "Training data": info.training_data or "—", "Licence": info.licence, "Paper": info.paper,
        "Code": info.code_url, "Weights": weights_status(info), "Sources": "; ".join(info.sources),
        "Notes": info.notes, "Decoder": "none (encode only)" if info.encode_only else ("yes" if info.neural else "—"),
        "Encodes to": "float latents" if info.continuous else ("tokens" if info.neural else "bytes"),
    }


def rows() -> list[dict[str, Any]]:
    return [row(info) for info in list_codecs()]


def group(entry: dict[str, Any]) -> str:
    if entry["Quantizer"] == "classical":
        return GROUPS[4]
    if entry["Decoder"] == "none (encode only)":
        return GROUPS[3]
    if entry["Encodes to"] == "float latents":
        return GROUPS[2]
    return GROUPS[0] if entry["Family"] in SURVEY_FAMILIES else GROUPS[1]


def details(entry: dict[str, Any]) -> str:
    """The codec's less-asked facts, folded under its name: notes, training data, discriminators, sources."""
    lines = [escape(entry["Notes"])] if entry["Notes"] else []
    lines += [f"<b>{escape(name)}:</b> {escape(str(entry[name]))}" for name in DETAILS if entry[name] != "—"]
    if entry["Sources"]:
        lines.append(f'<span title="{escape(entry["Sources"])}"><u>sources</u></span>')
    if not lines:
        return ""
    return f'<details><summary>more</summary><small>{"<br>".join(lines)}</small></details>'


def table_html(entries: list[dict[str, Any]]) -> str:
    body = []
    current = None
    for entry in sorted(entries, key=lambda e: GROUPS.index(group(e))):  # stable: registry order within a group
        if group(entry) != current:
            current = group(entry)
            body.append(f'<tr class="ca-group"><td colspan="{len(COLUMNS)}"><span>{escape(current)}</span></td></tr>')
        codec = escape(entry["Codec"])
        badge = ('<span class="ca-encode-only" title="No decoder: Compare encodes it and shows its tokens in the '
                 'Tokens tab; it has no audio to hear or score">encode only</span><br>'
                 if entry["Decoder"] == "none (encode only)" else "")
        cells = [f'<td class="ca-codec"><b>{escape(entry["Family"])}</b><br><code>{codec}</code><br>{badge}'
                 f'<button class="ca-open" data-codec="{codec}" title="Open {codec} in Compare">▶ Compare</button>'
                 f"{details(entry)}</td>"]
        for column in COLUMNS[1:]:
            value = escape(str(entry[column]))
            if column == "Paper" and entry["Code"]:
                value += f'<br><a href="{escape(entry["Code"])}" target="_blank" rel="noopener">code</a>'
            cells.append(f"<td>{value}</td>")
        body.append(f'<tr data-codec="{codec}">{"".join(cells)}</tr>')
    return scrolling_table(COLUMNS, body, "ca-codecs", button_column=False)


def scrolling_table(columns: tuple[str, ...], rows: list[str], extra_class: str = "",
                    button_column: bool = True) -> str:
    """The Overview's table frame: sticky headers, scrolling inside its frame (with the first column kept in
    view on a narrow screen); `button_column` adds a first, unlabelled column for the buttons."""
    head = "".join(f"<th>{escape(c)}</th>" for c in (("", *columns) if button_column else columns))
    return (f'<div class="ca-overview-wrap"><table class="ca-overview {extra_class}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


# a ▶ button sends its data attributes (data-codec or data-lm) with the table's click event
OPEN_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.ca-open');
  if (button) trigger('click', {...button.dataset});
});
"""
OVERVIEW_CSS = """
.ca-overview-wrap { overflow: auto; max-height: 78vh; padding: 0; margin: 0; }
.ca-overview { border-collapse: collapse; border: none; font-size: 0.8em; width: 100%; margin: 0; }
.ca-overview tr { border: none; }
.ca-overview tr.ca-group td span { position: sticky; left: 6px; }  /* the group's title stays in view */
.ca-overview tr.ca-group td { font-weight: 600; font-size: 1.1em; background: var(--background-fill-secondary); }
.ca-overview td small { color: var(--body-text-color-subdued); }
.ca-overview th, .ca-overview td { border: none; border-bottom: 1px solid var(--border-color-primary);
  padding: 4px 6px; text-align: left; vertical-align: top; }
.ca-overview th { position: sticky; top: 0; z-index: 2; background: var(--background-fill-secondary); }
.ca-overview td.ca-codec { min-width: 11em; background: var(--background-fill-primary); }
.ca-overview td.ca-codec code { font-size: 0.95em; overflow-wrap: anywhere; }
.ca-overview details summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.9em; }
.ca-overview details small { display: block; max-width: 24em; }
@media (max-width: 800px) {
  .ca-overview { min-width: 760px; }
  .ca-overview.ca-codecs td.ca-codec, .ca-overview.ca-codecs th:first-child { position: sticky; left: 0;
    z-index: 1; min-width: 9em; max-width: 9em; box-shadow: 1px 0 0 var(--border-color-primary); }
  .ca-overview.ca-codecs th:first-child { z-index: 3; }
}
.ca-overview button.ca-small { font-size: 0.9em; margin: 1px 0; }
.ca-overview .ca-encode-only { display: inline-block; font-size: 0.8em; padding: 0 6px; margin: 2px 0;
  border-radius: 6px; border: 1px solid var(--border-color-accent); color: var(--body-text-color-subdued); }
.ca-overview button.ca-open { white-space: nowrap; cursor: pointer; padding: 1px 8px; border-radius: 6px;
  font-size: 0.95em; font-weight: 600; margin: 2px 0;
  border: 1px solid var(--button-primary-border-color); background: var(--button-primary-background-fill);
  color: var(--button-primary-text-color); }
"""


LM_COLUMNS = ("Model", "Runs here", "Tasks", "Codec tokens", "Conditioning", "Parameters", "Licence / why not",
              "Survey", "Paper")


def lm_table_html(entries: list[dict[str, Any]]) -> str:
    """Codec LMs: runnable ones with a ▶ Try button, cards with buttons to the models that do the same task."""
    body = []
    for entry in entries:
        if entry["runnable"]:
            action = (f'<button class="ca-open" data-lm="{escape(entry["id"])}" title="Open in the Codec LM tab">'
                      "▶ Try</button>")
            runs = "yes" + (f'<br><small>{escape(entry["hardware"])}</small>' if entry["hardware"] else "")
            last = entry["licence"]
            name = f'<b>{escape(entry["name"])}</b><br><code>{escape(entry["id"])}</code>'
        else:
            action = ""
            tries = " ".join(f'<button class="ca-open ca-small" data-lm="{escape(t)}">▶ {escape(t)}</button>'
                             for t in entry["try_instead"].split(", ") if t)
            runs = f"card<br><small>same task here:</small><br>{tries}"
            last = entry["why_not_here"]
            name = f'<b>{escape(entry["name"])}</b>'
        cells = [action, name, runs, escape(entry["tasks"]), escape(entry["codec"]), escape(entry["conditioning"]),
                 escape(entry["parameters"] or "—"), escape(last), escape(entry["survey"]), escape(entry["paper"])]
        body.append(f'<tr data-lm="{escape(entry["id"])}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return scrolling_table(LM_COLUMNS, body, "ca-lms")


def open_in_compare(codec_id: str, clip: str | None, current: list[str] | None) -> tuple[list[str], str]:
    """The Compare selection with this codec (at its default bitrate) first, and the clip to use: the
    current one, or an example that suits the codec's domain when there is none yet."""
    info = codec_info(codec_id)
    chosen = str(parse_point(info.id))
    others = [p for p in (current or []) if p.partition("@")[0] != info.id]
    points = [chosen, *others][:MAX_POINTS]
    if not clip:
        clip = str(ASSETS / EXAMPLE_FOR_DOMAIN.get(info.domain, DEFAULT_EXAMPLE))
    return points, clip


def build(tab, compare_clip, compare_points, tabs, then_compare, open_lm) -> None:
    """`then_compare(event)` chains the Compare tab's run after the switch, so the codec plays at once;
    `open_lm(table)` wires the LM table's buttons to the Codec LM tab."""
    from ..lms import catalogue
    from .errors import show_reason, user_errors

    gr.Markdown("### Codecs\nThe codecs of the survey and the ones people compare them with today, from each "
                "codec's own facts (**more** under a codec: its training data, discriminators, and *sources* to hover "
                "for where the facts come from). **▶ Compare** opens a codec in the Compare tab on your clip, or on an "
                "example if you have none yet.")
    notes = gr.Markdown(elem_id="ca-overview-notes")  # the tab's notes: a refused request's reason
    table = gr.HTML(value=table_html(rows()), js_on_load=OPEN_JS, css_template=OVERVIEW_CSS,
                    elem_id="ca-overview", padding=False)

    @user_errors("opening the codec in Compare")
    def on_open(clip, current, event: gr.EventData):
        points, clip = open_in_compare(event.codec, clip, current)
        return gr.Tabs(selected="compare"), points, clip

    event = table.click(on_open, inputs=[compare_clip, compare_points], outputs=[tabs, compare_points, compare_clip],
                        api_visibility="private")
    show_reason(event, notes, [])
    then_compare(event)
    gr.Markdown("### Codec language models\nModels that write codec tokens: the survey's (runnable here or as a "
                "card saying why not) and later ones. **▶ Try** opens a model in the Codec LM tab.")
    lm_table = gr.HTML(value=lm_table_html(catalogue.rows()), js_on_load=OPEN_JS, css_template=OVERVIEW_CSS,
                       elem_id="ca-lm-overview", padding=False)
    open_lm(lm_table)
    tab.select(lambda: (table_html(rows()), lm_table_html(catalogue.rows())), outputs=[table, lm_table],
               api_visibility="private")  # weights may have arrived
    gr.api(overview, api_name="overview")
    gr.api(lm_overview, api_name="lm_overview")


def overview() -> list[dict[str, Any]]:
    """Every codec's facts and sources, as the Overview table shows them."""
    return rows()


def lm_overview() -> list[dict[str, Any]]:
    """Every codec LM (runnable or card), as the Overview's LM table shows them."""
    from ..lms import catalogue

    return catalogue.rows()
