"""Codec LM tab: pick a task, then a model that does it; hear what it generates, see the codec tokens it
wrote, and hear the prompt through the same codec (what the codec alone can do)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from ..audio import write_wav
from ..errors import CodecArenaError
from ..lms import TASKS, GenerationRequest, estimate_seconds, generate, lm_info, models_for
from ..lms.base import LMInfo
from ..models import gpu, pick_device
from .errors import user_errors
from .inputs import load_clip
from .roundtrip import as_gradio_audio

OUTPUT_ROOT = Path(tempfile.gettempdir()) / "codec-arena"
TEXT_LABELS = {"tts": "Text to say in the prompt's voice", "speech": "Text to say",
               "music": "Describe the music", "melody": "Describe the music (the melody comes from the clip)",
               "continuation": "Describe how it should go on (optional for some models)", "sound": "Describe the sound"}
PROMPT_LABELS = {"tts": "Voice prompt (3–10 s of the voice to clone)", "continuation": "Clip to continue",
                 "melody": "Melody clip"}
EXAMPLE_TEXT = {"tts": "The quick brown fox jumps over the lazy dog.",
                "speech": "Hello! This is a codec language model.",
                "music": "lo-fi hip hop beat with a mellow piano", "melody": "an upbeat orchestral arrangement",
                "continuation": "", "sound": "a dog barking in the rain"}


def tasks_here() -> list[str]:
    return [task for task in TASKS if models_for(task)]


def model_choices(task: str) -> list[tuple[str, str]]:
    return [(f"{info.name} · {info.codec_id}", info.id) for info in models_for(task)]


def model_card(info: LMInfo, seconds: float) -> str:
    """What the model speaks, what it needs, and the expected wait on this machine."""
    from .. import weights
    from ..lms import weight_spec

    path = weight_spec(info.id).path
    status = ("⚠️ random test weights: output is noise, timings are real" if path.exists() and weights.is_random(path)
              else "downloaded" if path.exists() else f"downloaded on first use (`codec-arena download {info.id}`)")
    wait = estimate_seconds(info.id, seconds)
    device = pick_device()
    wait_line = (f"On this machine's CPU expect about **{wait:.0f} s** for {seconds:g} s of audio."
                 if wait is not None else f"Runs on **{device}**.")
    return (f"**{info.name}** speaks **{info.codec_id}** tokens ({info.codebooks} codebooks, "
            f"{info.codec_kbps:g} kbps) · {info.architecture} · {info.parameters} parameters · {info.licence}  \n"
            f"Conditioning: {info.conditioning}. Hardware: {info.hardware or 'CPU or GPU'}. Weights: {status}.  \n"
            f"{wait_line}")


def describe(result, info: LMInfo) -> str:
    s = result.summary()
    lines = []
    if result.random_weights:
        lines.append("> ⚠️ **Random test weights.** This model's checkpoint was written by the test helper: the "
                     "audio is noise, not a quality result. Timings are real.\n")
    lines += [
        f"**{info.name}** wrote **{s['tokens']} tokens** ({s['codebooks']} codebooks × {s['frames']} frames of "
        f"`{s['codec']}`) → {s['seconds']:g} s at {s['sample_rate']} Hz",
        "",
        "| load | generate | decode | tokens/s | real-time factor | device |",
        "|---|---|---|---|---|---|",
        f"| {s['load_s']:.2f} s | {s['generate_s']:.2f} s | {s['decode_s']:.2f} s | {s['tokens_per_s']:.1f} "
        f"| {s['real_time_factor']:.2f} | {s['device']} |",
    ]
    lines += [f"- {note}" for note in result.notes]
    return "\n".join(lines)


def resynthesise(prompt, info: LMInfo):
    """The prompt through the codec the model speaks, at the model's operating point; a note instead when
    that codec cannot run (e.g. its weights are missing), so the generation still shows."""
    from ..roundtrip import roundtrip

    try:
        result = roundtrip(prompt, info.codec_id, info.codec_kbps)
    except CodecArenaError as exc:
        return None, f"(The prompt could not be resynthesised through {info.codec_id}: {exc})"
    note = f"The prompt through **{info.codec_id}** at {result.bitrate_kbps:.3g} kbps: the ceiling of what the " \
           "model's tokens can sound like."
    if result.random_weights:
        note += " ⚠️ random test weights for this codec: noise."
    return as_gradio_audio(result.output), note


@user_errors("generating")
@gpu(duration=180)
def run(task: str, model_id: str, text: str, prompt_path: str | None, prompt_text: str, speaker: str | None,
        max_seconds: float, temperature: float, top_k: float, top_p: float, seed: float,
        progress=gr.Progress()):
    """Generate with a codec LM; returns audio, token grid, the prompt through the codec, a summary, downloads."""
    from ..analysis.plots import token_heatmap

    info = lm_info(model_id)
    prompt = load_clip(prompt_path) if prompt_path and task in PROMPT_LABELS else None
    request = GenerationRequest(task=task, text=text or "", prompt=prompt, prompt_text=prompt_text or "",
                                speaker=speaker or "", max_seconds=float(max_seconds), temperature=float(temperature),
                                top_k=int(top_k), top_p=float(top_p), seed=int(seed or 0))
    result = generate(model_id, request, progress=lambda f, msg: progress(f, desc=msg))
    grid = token_heatmap(result.codes.tokens, result.codes.frame_rate,
                         title=f"Generated {result.codes.codec_id} tokens (codebooks × frames)")
    resynth, note = resynthesise(prompt, info) if prompt is not None else (None, "")
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="generate-", dir=OUTPUT_ROOT))
    wav = write_wav(result.audio, out / f"{model_id}.wav")
    tokens = out / f"{model_id}-tokens.npz"
    tokens.write_bytes(result.codes.to_npz())
    summary = describe(result, info) + (f"\n\n{note}" if note else "")
    return as_gradio_audio(result.audio), grid, resynth, summary, [str(wav), str(tokens)]


def on_task(task: str):
    choices = model_choices(task)
    model = choices[0][1] if choices else None
    return (gr.Dropdown(choices=choices, value=model), gr.Textbox(label=TEXT_LABELS[task], value=EXAMPLE_TEXT[task]),
            *on_model(task, model, 5.0))


def on_model(task: str, model_id: str | None, seconds: float):
    if not model_id:
        return gr.Markdown(""), gr.Audio(visible=False), gr.Textbox(visible=False), gr.Dropdown(visible=False), \
            gr.Slider()
    info = lm_info(model_id)
    wants_prompt = task in PROMPT_LABELS
    return (gr.Markdown(model_card(info, seconds)),
            gr.Audio(visible=wants_prompt, label=PROMPT_LABELS.get(task, "Prompt")),
            gr.Textbox(visible=wants_prompt and task == "tts" and info.needs_prompt_text),
            gr.Dropdown(visible=bool(info.speakers), choices=[("none", ""), *[(s, s) for s in info.speakers]],
                        value=""),
            gr.Slider(maximum=info.max_seconds, value=min(seconds, info.max_seconds)))


def open_model(model_id: str):
    """The tab's task, model and text set for a model opened from the Overview."""
    info = lm_info(model_id)
    task = info.tasks[0]
    return gr.Radio(value=task), gr.Dropdown(choices=model_choices(task), value=model_id), \
        gr.Textbox(label=TEXT_LABELS[task], value=EXAMPLE_TEXT[task])


def build(tabs):
    """Returns `opener(html)`: wires an HTML table whose buttons `trigger('click', {lm: id})` to open that
    model here (the Overview's LM table)."""
    first_task = tasks_here()[0] if tasks_here() else "tts"
    first = models_for(first_task)[0] if models_for(first_task) else None
    gr.Markdown("Codec language models write codec tokens; a codec turns them into audio. Pick a task, then a "
                "model. The token grid shows what the model generated; the prompt played through the same codec "
                "shows what the codec alone can do.")
    with gr.Row():
        with gr.Column(scale=1):
            task = gr.Radio(label="Task", choices=[(TASKS[t], t) for t in tasks_here()], value=first_task)
            # choices follow the task in the page; API callers may name any model, which the registry
            # checks against the task with a clear message
            model = gr.Dropdown(label="Model", choices=model_choices(first_task), value=first.id if first else None,
                                allow_custom_value=True)
            card = gr.Markdown(model_card(first, 5.0) if first else "")
            text = gr.Textbox(label=TEXT_LABELS[first_task], value=EXAMPLE_TEXT[first_task], lines=2)
            prompt = gr.Audio(label=PROMPT_LABELS.get(first_task, "Prompt"), sources=["upload", "microphone"],
                              type="filepath", visible=first_task in PROMPT_LABELS)
            prompt_text = gr.Textbox(label="Transcript of the voice prompt", lines=1,
                                     visible=bool(first and first.needs_prompt_text and first_task == "tts"))
            speaker = gr.Dropdown(label="Voice", choices=[("none", "")], value="", visible=False,
                                  allow_custom_value=True)
            with gr.Accordion("Generation settings", open=False):
                seconds = gr.Slider(0.5, first.max_seconds if first else 30, value=5, step=0.5,
                                    label="Max seconds to generate")
                temperature = gr.Slider(0.05, 2.0, value=1.0, step=0.05, label="Temperature")
                top_k = gr.Slider(0, 500, value=50, step=1, label="Top-k (0 = off)")
                top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p (1 = off)")
                seed = gr.Number(value=0, precision=0, label="Seed")
            go = gr.Button("Generate", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown()
            audio = gr.Audio(label="Generated", interactive=False, buttons=["download"])
            grid = gr.Plot(label="Generated tokens")
            resynth = gr.Audio(label="Prompt through the same codec", interactive=False)
            downloads = gr.File(label="Downloads: wav, tokens (.npz)", file_count="multiple")
    model_outputs = [card, prompt, prompt_text, speaker, seconds]
    task.input(on_task, inputs=task, outputs=[model, text, *model_outputs], api_visibility="private")
    model.change(on_model, inputs=[task, model, seconds], outputs=model_outputs, api_visibility="private")
    seconds.release(lambda m, s: gr.Markdown(model_card(lm_info(m), s)) if m else gr.Markdown(),
                    inputs=[model, seconds], outputs=card, api_visibility="private")
    go.click(run, inputs=[task, model, text, prompt, prompt_text, speaker, seconds, temperature, top_k, top_p, seed],
             outputs=[audio, grid, resynth, summary, downloads], api_name="generate")

    def opener(table) -> None:
        @user_errors("opening the model")
        def on_open(event: gr.EventData):
            return gr.Tabs(selected="lm"), *open_model(event.lm)

        table.click(on_open, inputs=None, outputs=[tabs, task, model, text], api_visibility="private").then(
            on_model, inputs=[task, model, seconds], outputs=model_outputs, api_visibility="private")

    return opener
