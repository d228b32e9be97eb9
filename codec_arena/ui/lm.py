"""Codec LM tab: pick a task, then a model that does it; hear what it generates, see the codec tokens it
wrote, and hear the prompt through the same codec (what the codec alone can do)."""

from __future__ import annotations

import shutil

import gradio as gr

from ..audio import write_wav
from ..errors import CodecArenaError
from ..lms import TASKS, GenerationRequest, estimate_seconds, generate, lm_info, models_for
from ..lms.base import LMInfo
from ..runtime import gpu, pick_device
from .errors import show_reason, user_errors
from .inputs import ASSETS, clip_input, load_clip
from .live import available, stream, wav_bytes
from .outputs import output_dir
from .roundtrip import as_gradio_audio
from .text import code, md

TEXT_LABELS = {"tts": "Text to say in the prompt's voice", "speech": "Text to say",
               "music": "Describe the music", "melody": "Describe the music (the melody comes from the clip)",
               "continuation": "Describe how it should go on (optional for some models)", "sound": "Describe the sound",
               "dialogue": "Text"}
TEXTLESS = {"dialogue"}  # tasks whose models take no text: the box is hidden (the model answers the clip)
# short labels: a long one runs under the audio input's corner buttons once a clip is loaded
PROMPT_LABELS = {"tts": "Voice prompt", "continuation": "Clip to continue", "melody": "Melody clip",
                 "dialogue": "What you say to it"}
GENERATE_OUTPUTS = 7  # what `run` returns: audio, grid, resynthesis, summary, downloads and two boxes
EXAMPLE_VOICE = "speech_arctic_a0007.wav"
EXAMPLE_TRANSCRIPT = "And you always want to see it in the superlative degree."  # CMU ARCTIC arctic_a0007
EXAMPLE_TEXT = {"tts": "The quick brown fox jumps over the lazy dog.",
                "speech": "Hello! This is a codec language model.",
                "music": "lo-fi hip hop beat with a mellow piano", "melody": "an upbeat orchestral arrangement",
                "continuation": "", "sound": "a dog barking in the rain", "dialogue": ""}


def tasks_here() -> list[str]:
    return [task for task in TASKS if models_for(task)]


def model_choices(task: str) -> list[tuple[str, str]]:
    return [(f"{info.name} · {info.codec_id}", info.id) for info in models_for(task)]


def weights_state(info: LMInfo) -> str:
    """random (test weights), downloaded, or not here yet; a stat call, no model import."""
    from ..lms import weight_spec
    from ..weights import presence

    return presence(weight_spec(info.id).path)


def model_card(info: LMInfo, seconds: float) -> str:
    """One line: the codec the model speaks, the expected wait here, and whether its weights are real; the
    rest is in `model_details`, so the inputs and Generate stay on the first screen."""
    wait = estimate_seconds(info.id, seconds)
    when = (f"about **{wait:.0f} s** on this CPU for {seconds:g} s" if wait is not None
            else f"runs on **{md(pick_device())}**")
    weights = {"random": "⚠️ random test weights: noise", "downloaded": "weights here",
               "missing": "weights download on first use"}[weights_state(info)]
    return (f"**{md(info.name)}** speaks {code(info.codec_id)} ({info.codebooks} codebooks, {info.codec_kbps:g} kbps)"
            f" · {when} · {weights}")


def model_details(info: LMInfo) -> str:
    """The rest of the model card: how it works, what it needs, its licence and weights."""
    status = {"random": "random test weights: the output is noise, the timings are real", "downloaded": "downloaded",
              "missing": f"downloaded on first use ({code(f'codec-arena download {info.id}')})"}[weights_state(info)]
    return "\n".join([f"- **How:** {md(info.architecture)}", f"- **Size:** {md(info.parameters)} parameters",
                      f"- **Conditioning:** {md(info.conditioning)}",
                      f"- **Hardware:** {md(info.hardware or 'CPU or GPU')}", f"- **Licence:** {md(info.licence)}",
                      f"- **Weights:** {status}"])


def describe(result, info: LMInfo) -> str:
    s = result.summary()
    lines = []
    if result.random_weights:
        lines.append("> ⚠️ **Random test weights.** This model's checkpoint was written by the test helper: the "
                     "audio is noise, not a quality result. Timings are real.\n")
    lines += [
        f"**{md(info.name)}** wrote **{s['tokens']} tokens** ({s['codebooks']} codebooks × {s['frames']} frames of "
        f"{code(s['codec'])}) → {s['seconds']:g} s at {s['sample_rate']} Hz",
        "",
        "| load | generate | decode | tokens/s | real-time factor | device |",
        "|---|---|---|---|---|---|",
        f"| {s['load_s']:.2f} s | {s['generate_s']:.2f} s | {s['decode_s']:.2f} s | {s['tokens_per_s']:.1f} "
        f"| {s['real_time_factor']:.2f} | {md(s['device'])} |",
    ]
    lines += [f"- {md(note)}" for note in result.notes]
    return "\n".join(lines)


def resynthesise(prompt, info: LMInfo):
    """The prompt through the codec the model speaks, at the model's operating point; a note instead when
    that codec cannot run (e.g. its weights are missing), so the generation still shows."""
    from ..roundtrip import roundtrip

    try:
        result = roundtrip(prompt, info.codec_id, info.codec_kbps)
    except CodecArenaError as exc:
        return None, f"(The prompt could not be resynthesised through {code(info.codec_id)}: {md(exc)})"
    note = f"The prompt through {code(info.codec_id)} at {result.bitrate_kbps:.3g} kbps: the ceiling of what the " \
           "model's tokens can sound like."
    if result.random_weights:
        note += " ⚠️ random test weights for this codec: noise."
    return as_gradio_audio(result.output), note


@user_errors("generating")
@gpu(duration=180)
def run(task: str, model_id: str, text: str, prompt_path: str | None, prompt_text: str, speaker: str | None,
        max_seconds: float, temperature: float, top_k: float, top_p: float, seed: float,
        progress=gr.Progress()):
    """Generate with a codec LM (the `/generate` endpoint); returns audio, token grid, the prompt through the
    codec, a summary, downloads (and the two boxes' visibility)."""
    request = _request(task, text, prompt_path, prompt_text, speaker, max_seconds, temperature, top_k, top_p, seed)
    return _generate(model_id, request, progress)


@user_errors("generating")
@gpu(duration=180)
def run_live(task: str, model_id: str, text: str, prompt_path: str | None, prompt_text: str, speaker: str | None,
             max_seconds: float, temperature: float, top_k: float, top_p: float, seed: float,
             progress=gr.Progress()):
    """The Generate button: `run`'s outputs, and before them, for a model that streams, its audio piece by
    piece into the live player (the last output)."""
    request = _request(task, text, prompt_path, prompt_text, speaker, max_seconds, temperature, top_k, top_p, seed)
    info = lm_info(model_id)
    if not streams_live(info):
        yield *_generate(model_id, request, progress), None
        return
    for item in stream(lambda channel: _generate(model_id, request, progress, on_audio=channel.put)):
        if isinstance(item, tuple):  # the generation's outputs
            yield *item[0], gr.skip()
        else:  # a piece: only the live player changes
            yield *[gr.skip()] * GENERATE_OUTPUTS, wav_bytes(item, info.sample_rate)


def _request(task, text, prompt_path, prompt_text, speaker, max_seconds, temperature, top_k, top_p,
             seed) -> GenerationRequest:
    prompt = load_clip(prompt_path) if prompt_path and task in PROMPT_LABELS else None
    return GenerationRequest(task=task, text=text or "", prompt=prompt, prompt_text=prompt_text or "",
                             speaker=speaker or "", max_seconds=float(max_seconds), temperature=float(temperature),
                             top_k=int(top_k), top_p=float(top_p), seed=int(seed or 0))


def _generate(model_id: str, request: GenerationRequest, progress, on_audio=None):
    from ..analysis.plots import token_heatmap

    info = lm_info(model_id)
    result = generate(model_id, request, progress=lambda f, msg: progress(f, desc=msg), on_audio=on_audio)
    grid = token_heatmap(result.codes.tokens, result.codes.frame_rate,
                         title=f"Generated {result.codes.codec_id} tokens (codebooks × frames)")
    prompt = request.prompt
    resynth, note = resynthesise(prompt, info) if prompt is not None else (None, "")
    out = output_dir("generate-")
    wav = write_wav(result.audio, out / f"{model_id}.wav")
    tokens = out / f"{model_id}-tokens.npz"
    tokens.write_bytes(result.codes.to_npz())
    summary = describe(result, info) + (f"\n\n{note}" if note else "")
    # the prompt's player only when there was a prompt (text-to-music has none), the downloads once there are some;
    # shown through their columns, so API callers get plain values
    return (as_gradio_audio(result.audio), grid, resynth, summary, [str(wav), str(tokens)],
            gr.Column(visible=resynth is not None), gr.Column(visible=True))


def use_example_voice() -> tuple[str, str]:
    """The shipped CMU ARCTIC clip and its transcript, copied to the temporary folder (which Gradio serves
    wherever the app was started from)."""
    target = output_dir("example-") / EXAMPLE_VOICE
    shutil.copyfile(ASSETS / EXAMPLE_VOICE, target)
    return str(target), EXAMPLE_TRANSCRIPT


def on_task(task: str):
    choices = model_choices(task)
    model = choices[0][1] if choices else None
    return (gr.Dropdown(choices=choices, value=model), text_box(task), *on_model(task, model, 5.0))


def text_box(task: str):
    return gr.Textbox(label=TEXT_LABELS[task], value=EXAMPLE_TEXT[task], visible=task not in TEXTLESS)


def on_model(task: str, model_id: str | None, seconds: float):
    """The card, and the inputs this task and model take: card, details, prompt, transcript, voice, length,
    the example-voice row (zero-shot TTS only) and the live player (models that stream)."""
    if not model_id:
        return gr.Markdown(""), gr.Markdown(""), gr.Audio(), gr.Textbox(visible=False), \
            gr.Dropdown(visible=False), gr.Slider(), gr.Row(visible=False), gr.Column(visible=False), \
            gr.Column(visible=False)
    info = lm_info(model_id)
    wants_prompt = task in PROMPT_LABELS
    return (gr.Markdown(model_card(info, seconds)), gr.Markdown(model_details(info)),
            gr.Audio(label=PROMPT_LABELS.get(task, "Prompt")),
            gr.Textbox(visible=wants_prompt and task == "tts" and info.needs_prompt_text),
            gr.Dropdown(visible=bool(info.speakers), choices=[("none", ""), *[(s, s) for s in info.speakers]],
                        value=""),
            gr.Slider(maximum=info.max_seconds, value=min(seconds, info.max_seconds)),
            gr.Row(visible=task == "tts"), gr.Column(visible=wants_prompt), gr.Column(visible=streams_live(info)))


def streams_live(info: LMInfo | None) -> bool:
    """Whether the tab plays this model's audio while it is generated."""
    return bool(info and info.streams and available())


def open_model(model_id: str):
    """The tab's task, model and text set for a model opened from the Overview."""
    info = lm_info(model_id)
    task = info.tasks[0]
    return gr.Radio(value=task), gr.Dropdown(choices=model_choices(task), value=model_id), text_box(task)


def build(tabs):
    """Returns `opener(html)`: wires an HTML table whose buttons `trigger('click', {lm: id})` to open that
    model here (the Overview's LM table)."""
    first_task = tasks_here()[0] if tasks_here() else "tts"
    first = models_for(first_task)[0] if models_for(first_task) else None
    gr.Markdown("Codec language models write codec tokens, and a codec turns them into audio: pick a task and a "
                "model, give it text (and a prompt), then **Generate**.")
    with gr.Row():
        with gr.Column(scale=1, min_width=280):  # what to run
            task = gr.Radio(label="Task", choices=[(TASKS[t], t) for t in tasks_here()], value=first_task)
            # choices follow the task in the page; API callers may name any model, which the registry
            # checks against the task with a clear message
            model = gr.Dropdown(label="Model", choices=model_choices(first_task), value=first.id if first else None,
                                allow_custom_value=True)
            card = gr.Markdown(model_card(first, 5.0) if first else "", elem_id="ca-lm-card")
            with gr.Accordion("About this model", open=False):
                details = gr.Markdown(model_details(first) if first else "")
            with gr.Accordion("Generation settings", open=False):
                seconds = gr.Slider(0.5, first.max_seconds if first else 30, value=5, step=0.5,
                                    label="Max seconds to generate")
                temperature = gr.Slider(0.05, 2.0, value=1.0, step=0.05, label="Temperature")
                top_k = gr.Slider(0, 500, value=50, step=1, label="Top-k (0 = off)")
                top_p = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="Top-p (1 = off)")
                seed = gr.Number(value=0, precision=0, label="Seed")
        with gr.Column(scale=1, min_width=280):  # what to say, and in which voice
            text = gr.Textbox(label=TEXT_LABELS[first_task], value=EXAMPLE_TEXT[first_task], lines=2,
                              visible=first_task not in TEXTLESS)
            with gr.Column(visible=first_task in PROMPT_LABELS) as prompt_box:  # any file, or a recording
                prompt = clip_input(label=PROMPT_LABELS.get(first_task, "Prompt"), examples=False, compact=True)
            with gr.Row(visible=first_task == "tts", equal_height=True) as example_row:
                example = gr.Button("Use the example voice", size="sm", scale=0, min_width=170)
                gr.Markdown("3–10 s of the voice to clone", elem_classes="ca-hint")
            prompt_text = gr.Textbox(label="Transcript of the voice prompt", lines=1,
                                     visible=bool(first and first.needs_prompt_text and first_task == "tts"))
            speaker = gr.Dropdown(label="Voice", choices=[("none", "")], value="", visible=False,
                                  allow_custom_value=True)
            go = gr.Button("Generate", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="ca-lm-notes")  # the tab's notes: what was generated, or why not
            with gr.Column(visible=streams_live(first), elem_id="ca-lm-live") as live_box:  # streaming models
                live = gr.Audio(label="Live: plays while it is generated", streaming=True, autoplay=True,
                                interactive=False, buttons=[])
            audio = gr.Audio(label="Generated", interactive=False, buttons=["download"])
            grid = gr.Plot(label="Generated tokens")
            with gr.Column(visible=False) as resynth_box:
                resynth = gr.Audio(label="Prompt through the same codec (what the codec alone can do)",
                                   interactive=False)
            with gr.Column(visible=False) as downloads_box:
                downloads = gr.File(label="Downloads: wav, tokens (.npz)", file_count="multiple")
    model_outputs = [card, details, prompt, prompt_text, speaker, seconds, example_row, prompt_box, live_box]
    task.input(on_task, inputs=task, outputs=[model, text, *model_outputs], api_visibility="private")
    model.change(on_model, inputs=[task, model, seconds], outputs=model_outputs, api_visibility="private")
    seconds.release(lambda m, s: gr.Markdown(model_card(lm_info(m), s)) if m else gr.Markdown(),
                    inputs=[model, seconds], outputs=card, api_visibility="private")
    example.click(use_example_voice, outputs=[prompt, prompt_text], api_visibility="private")
    inputs = [task, model, text, prompt, prompt_text, speaker, seconds, temperature, top_k, top_p, seed]
    outputs = [audio, grid, resynth, summary, downloads, resynth_box, downloads_box]
    event = go.click(run_live, inputs=inputs, outputs=[*outputs, live], api_visibility="private",
                     show_progress_on=[audio, grid])  # the live player stays in sight while it plays
    show_reason(event, summary, [audio, grid, resynth, downloads, live])
    api_trigger = gr.Button(visible=False)  # `/generate` for scripts: the same outputs, no stream
    show_reason(api_trigger.click(run, inputs=inputs, outputs=outputs, api_name="generate"), summary,
                [audio, grid, resynth, downloads])

    def opener(table) -> None:
        @user_errors("opening the model")
        def on_open(event: gr.EventData):
            return gr.Tabs(selected="lm"), *open_model(event.lm)

        table.click(on_open, inputs=None, outputs=[tabs, task, model, text], api_visibility="private").then(
            on_model, inputs=[task, model, seconds], outputs=model_outputs, api_visibility="private")

    return opener
