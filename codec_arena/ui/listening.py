"""Listening test tab: a teacher builds a test, participants take it from a link, the owner reads the
results with the secret owner link. Opened with `?test=ID` the page becomes the participant's view
(the other tabs are hidden); with `?test=ID&owner=TOKEN` it opens the results.

Each participant's secret token lives in the browser (`gr.BrowserState`), so closing the tab and
coming back resumes at the next unanswered trial; it is also shown as a resume code for another device.
"""

from __future__ import annotations

import gradio as gr

from ..errors import RequestError
from ..listening import api, service
from ..listening.protocols import METHODS
from ..models import gpu
from . import listening_results as shown
from .compare import point_choices
from .errors import user_errors
from .inputs import ASSETS, EXAMPLES
from .listening_views import TRIAL_CSS, TRIAL_JS, done_html, progress_html, trial_html

DEFAULT_POINTS = ["encodec_24khz@6", "dac_16khz@6", "opus@12"]
SAVED_KEY = "codec-arena-listening"  # localStorage key of {test id: participant token}
# A participant's link shows only their test: the page marks itself and CSS hides every other tab.
PARTICIPANT_JS = """() => {
  const q = new URLSearchParams(location.search);
  if (q.get('test') && !q.get('owner')) document.documentElement.classList.add('ca-participant');
}"""
PARTICIPANT_CSS = """.ca-participant [role=tab]:not([data-tab-id=listening]):not([data-tab-id=take]) { display: none; }
.ca-participant .ca-intro { display: none; }"""


def base_url(request: gr.Request | None) -> str:
    """The address the teacher's browser used, so the links work from the class's machines (or the Space)."""
    if request is None:
        return ""
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1:7860"
    proto = headers.get("x-forwarded-proto") or ("https" if host.endswith(".hf.space") else "http")
    return f"{proto}://{host}"


# --- teacher ------------------------------------------------------------------------------------
@gpu(duration=300)
def render_on_gpu(draft: service.Draft, cache_dir, progress=gr.Progress()):
    """The codec work, on a ZeroGPU slice where there is one (storing stays in the app's process)."""
    return service.render_draft(draft, cache_dir, lambda f, msg: progress(f, desc=f"rendering {msg}"))


@user_errors("creating the listening test")
def create(title: str, method: str, files: list[str] | None, examples: list[str] | None, points: list[str] | None,
           per_participant: float, training: bool, instructions: str, request: gr.Request,
           progress=gr.Progress()):
    """Render and store the test; returns the links (markdown) and the details (JSON)."""
    paths = list(files or []) + [str(ASSETS / name) for name in (examples or []) if name in EXAMPLES]
    created = api.create(title, method, paths, points, per_participant, training, instructions, base_url(request),
                         renderer=lambda draft, cache_dir, _: render_on_gpu(draft, cache_dir, progress))
    warning = ""
    if created["random_weights"]:
        warning = (f"\n\n> ⚠️ **Random test weights** for {', '.join(created['random_weights'])}: those stimuli are "
                   "noise. Fine for trying the app; for a real test download the weights and create it again.")
    text = (f"### Test created: `{created['test_id']}`\n"
            f"**Participant link** (share it with the class): [{created['participant_link']}]"
            f"({created['participant_link']})\n\n"
            f"**Owner link** (keep it secret: results, exports and deletion; it is shown only now, so save it): "
            f"[{created['owner_link']}]({created['owner_link']})\n\n"
            f"{shown.plural(created['trials'], 'trial')}, {created['trials_each']} per participant · "
            "stimuli loudness-matched to "
            f"{created['loudness_lufs']:g} LUFS (ITU-R BS.1770).{warning}")
    return text, created


def build_section():
    gr.Markdown("Pick clips and codec operating points; every stimulus is rendered once, loudness-matched and stored. "
                "You get a **participant link** for the class and a secret **owner link** for the results.")
    with gr.Row():
        with gr.Column():
            title = gr.Textbox(label="Title", value="Codec listening test", max_length=service.MAX_TITLE)
            method = gr.Radio(label="Method", choices=[(m.name, m.id) for m in METHODS.values()], value="mushra")
            files = gr.File(label="Clips (audio files; the first 15 s of each are used)", file_count="multiple",
                            file_types=["audio"], type="filepath")
            examples = gr.CheckboxGroup(label="…or the shipped examples", choices=[e for e in EXAMPLES
                                                                                   if (ASSETS / e).exists()])
        with gr.Column():
            points = gr.Dropdown(label="Codecs @ kbps (each becomes a condition)", choices=point_choices(),
                                 value=DEFAULT_POINTS, multiselect=True, allow_custom_value=True)
            per_participant = gr.Number(label="Trials per participant (0 = all; fewer gives each a balanced random "
                                              "subset)", value=0, precision=0, minimum=0)
            training = gr.Checkbox(label="Start with a practice trial (versions named, answer not saved)", value=True)
            instructions = gr.Textbox(label="Instructions (empty: the method's standard wording)", lines=4,
                                      max_length=service.MAX_INSTRUCTIONS,
                                      placeholder=service.default_instructions("mushra"))
            go = gr.Button("Create the test", variant="primary")
    links = gr.Markdown()
    with gr.Accordion("Details (JSON, as `/listening_create` returns them)", open=False):
        details = gr.JSON(show_label=False)
    method.change(lambda m: gr.Textbox(placeholder=service.default_instructions(m)), method, instructions,
                  api_visibility="private")
    go.click(create, inputs=[title, method, files, examples, points, per_participant, training, instructions],
             outputs=[links, details], api_name="listening_create", concurrency_limit=1)


# --- participant --------------------------------------------------------------------------------
def info_markdown(info: dict) -> str:
    practice = " It starts with a practice trial." if info["training"] else ""
    trials = f"{info['trials']} trial{'s' if info['trials'] != 1 else ''}"
    return (f"## {info['title']}\n*{info['method_name']}* · {trials}.{practice} Each answer is "
            f"saved as soon as you submit it: you can close the page and come back to this link to continue.\n\n"
            f"{info['instructions']}")


@user_errors("opening the test")
def open_test(test_id: str, saved: dict | None):
    info = service.public_info(test_id)
    token = saved.get(info["id"]) if isinstance(saved, dict) else None  # the browser's own storage: any value
    label = "Start the test"
    if token:
        try:
            participant = service.progress_of(info["id"], token)
            label = ("See your completion code" if participant.next_position is None else
                     f"Continue (trial {len(participant.answered) + 1} of {len(participant.slots)})")
        except service.AccessDenied:
            pass
    return info["id"], info_markdown(info), gr.Button(label, visible=True), gr.Textbox(visible=True)


def _screen(test_id: str, token: str, note: str = ""):
    """Progress, trial markup and status for a participant's current state."""
    view = service.next_trial(test_id, token)
    if view is None:
        participant = service.progress_of(test_id, token)
        return progress_html(len(participant.answered), len(participant.slots)), done_html(
            participant.completion_code), note
    return progress_html(view.answered, view.total, token), trial_html(view), note


@user_errors("starting the test")
def start(test_id: str, resume_code: str, saved: dict | None):
    if not test_id:
        raise RequestError("Open a test first: use the link you were given, or paste its id above.")
    saved = dict(saved) if isinstance(saved, dict) else {}
    info = service.public_info(test_id)
    token = (resume_code or "").strip() or saved.get(info["id"])
    fresh = False
    if token:
        service.progress_of(info["id"], token)  # a wrong resume code is refused here
    else:
        token, _ = service.join(info["id"])
        fresh = True
    saved[info["id"]] = token
    session = {"test": info["id"], "token": token}
    note = "This browser remembers where you are; the resume code continues the test on another device."
    hide = (gr.Button(visible=False), gr.Textbox(visible=False))
    if fresh and info["training"]:
        view = service.training_trial(info["id"])
        return session, saved, progress_html(0, info["trials"], token), trial_html(view), note, *hide
    return (session, saved, *_screen(info["id"], token, note), *hide)


@user_errors("saving your answer")
def submit(session: dict | None, event: gr.EventData):
    if not session:
        raise RequestError("Your session has ended: reload the page (your answers so far are saved).")
    data = event._data or {}
    if str(data.get("training")) == "1":
        return _screen(session["test"], session["token"], "Practice done. The test starts now.")
    receipt = service.submit(session["test"], session["token"], data.get("slot"), str(data.get("answer", "")))
    note = (f"✓ Trial {receipt.position + 1} was already saved." if receipt.duplicate
            else f"✓ Saved ({receipt.answered} of {receipt.total}).")
    return _screen(session["test"], session["token"], note)


def saved_tokens() -> gr.BrowserState:
    """The participant tokens this browser holds, {test id: token}. Create it outside any tab: a
    component in a tab that is not shown yet is not mounted at page load, so its stored value would
    arrive too late for the link routing."""
    return gr.BrowserState({}, storage_key=SAVED_KEY, secret=SAVED_KEY)  # fixed: tokens outlive a restart


def take_section(saved: gr.BrowserState):
    session = gr.State(None)
    with gr.Row():
        test_id = gr.Textbox(label="Test id (from the link you were given)", scale=3, max_length=40)
        open_button = gr.Button("Open", scale=1)
    info = gr.Markdown()
    with gr.Row():
        resume = gr.Textbox(label="Resume code (only to continue on another device)", visible=False, scale=3,
                            max_length=64)
        start_button = gr.Button("Start the test", variant="primary", visible=False, scale=1)
    progress = gr.HTML(elem_id="ca-listening-progress")
    trial = gr.HTML(js_on_load=TRIAL_JS, css_template=TRIAL_CSS, elem_id="ca-listening-trial")
    status = gr.Markdown(elem_id="ca-listening-status")
    opened = [test_id, info, start_button, resume]
    open_button.click(open_test, [test_id, saved], opened, api_visibility="private")
    test_id.submit(open_test, [test_id, saved], opened, api_visibility="private")
    start_button.click(start, [test_id, resume, saved],
                       [session, saved, progress, trial, status, start_button, resume], api_visibility="private")
    trial.submit(submit, [session], [progress, trial, status], api_visibility="private", concurrency_limit=None)
    return opened


# --- owner --------------------------------------------------------------------------------------
@user_errors("reading the results")
def show_results(test_id: str, token: str, screening: bool = True):
    found = service.results(test_id, token, screening)
    columns = shown.SUMMARY_COLUMNS[found.test.method]
    return (shown.headline(found), gr.Dataframe(value=shown.table(found.summary, columns), headers=columns),
            shown.figure(found),
            gr.Dataframe(value=shown.table(found.summary_by_clip, ["clip", *columns]), headers=["clip", *columns],
                         visible=bool(found.summary_by_clip)),
            shown.table(found.participants, PARTICIPANT_COLUMNS), shown.export(found))


PARTICIPANT_COLUMNS = ["participant", "answered", "trials", "completion_code"]


@user_errors("deleting the test")
def delete(test_id: str, token: str, confirmed: bool):
    if not confirmed:
        raise RequestError("Tick the box to confirm: deleting removes the test and every response for good.")
    service.delete(test_id, token)
    return f"Test `{test_id}` and all its responses were deleted."


def results_section():
    with gr.Row():
        test_id = gr.Textbox(label="Test id", max_length=40)
        token = gr.Textbox(label="Owner token (from the owner link)", type="password", max_length=80)
        go = gr.Button("Show results", variant="primary")
    screening = gr.Checkbox(label="Apply the BS.1534-3 post-screening (MUSHRA: leave out participants who rate the "
                                  "hidden reference below 90 in more than 15% of their trials)", value=True)
    headline = gr.Markdown(elem_id="ca-listening-headline")
    summary = gr.Dataframe(label="Summary", interactive=False, wrap=True)
    plot = gr.Plot(show_label=False)
    by_clip = gr.Dataframe(label="Per clip", interactive=False, wrap=True)
    participants = gr.Dataframe(label="Participants and completion codes", headers=PARTICIPANT_COLUMNS,
                                interactive=False)
    files = gr.File(label="CSV exports: raw responses, summary, per clip, participants, stimuli", file_count="multiple")
    with gr.Accordion("Delete this test", open=False):
        confirm = gr.Checkbox(label="Delete the test, its stimuli and every response, for good")
        delete_button = gr.Button("Delete", variant="stop")
        deleted = gr.Markdown()
    outputs = [headline, summary, plot, by_clip, participants, files]
    go.click(show_results, [test_id, token, screening], outputs, api_visibility="private")
    screening.change(show_results, [test_id, token, screening], outputs, api_visibility="private")
    delete_button.click(delete, [test_id, token, confirm], deleted, api_visibility="private")
    return test_id, token, outputs


# --- assembly -----------------------------------------------------------------------------------
def register_api() -> None:
    """The scriptable endpoints (creating a test is the Build section's `/listening_create`); none is
    queued behind codec work."""
    for fn, name in ((api.join, "listening_join"), (api.next_trial, "listening_next"),
                     (api.submit, "listening_submit"), (api.results, "listening_results"),
                     (api.delete, "listening_delete")):
        gr.api(user_errors(name.replace("_", " "))(fn), api_name=name, concurrency_limit=None)


def build(app: gr.Blocks, tabs: gr.Tabs, saved: gr.BrowserState) -> None:
    """The tab's three sections, and the link routing on page load."""
    with gr.Tabs() as sections:
        with gr.Tab("Build a test", id="build", elem_id="listening-build"):
            build_section()
        with gr.Tab("Take a test", id="take", elem_id="listening-take"):
            opened = take_section(saved)
        with gr.Tab("Results", id="results", elem_id="listening-results"):
            owner_id, owner_token, result_outputs = results_section()
    register_api()

    def route(saved_tokens: dict | None, request: gr.Request):
        params = dict(request.query_params) if request else {}
        test_id, owner = params.get("test", "").strip(), params.get("owner", "").strip()
        keep = [gr.update()] * (len(opened) + 2 + len(result_outputs))
        if not test_id:
            return [gr.update(), gr.update(), *keep]
        if owner:
            try:
                found = show_results(test_id, owner)
            except gr.Error as error:
                found = [f"⛔ {error.message}", *[gr.update()] * (len(result_outputs) - 1)]
            return [gr.Tabs(selected="listening"), gr.Tabs(selected="results"),
                    *[gr.update()] * len(opened), test_id, owner, *found]
        try:
            opened_values = open_test(test_id, saved_tokens)
        except gr.Error as error:
            opened_values = (test_id, f"⛔ {error.message}", gr.update(), gr.update())
        return [gr.Tabs(selected="listening"), gr.Tabs(selected="take"), *opened_values, gr.update(), gr.update(),
                *[gr.update()] * len(result_outputs)]

    app.load(route, [saved], [tabs, sections, *opened, owner_id, owner_token, *result_outputs],
             api_visibility="private")

