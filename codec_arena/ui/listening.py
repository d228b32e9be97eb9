"""Listening test tab: a teacher builds a test, participants take it from a link, the owner reads the
results with the secret owner link. Opened with `?test=ID` the page becomes the participant's view
(only their test, in plain words; the rest folds under "More"); with `?test=ID&owner=TOKEN` it opens
the results.

Each participant's secret token lives in the browser (`gr.BrowserState`), so closing the tab and
coming back resumes at the next unanswered trial; it is also shown as a resume code for another device.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from urllib.parse import quote

import gradio as gr

from ..errors import RequestError
from ..listening import api, service
from ..listening.protocols import METHODS
from ..runtime import gpu
from . import listening_results as shown
from . import sharing
from .compare import point_choices
from .errors import reason_markdown, user_errors
from .inputs import ASSETS, EXAMPLES
from .listening_views import TRIAL_CSS, TRIAL_JS, done_html, progress_html, trial_html
from .text import code, md

DEFAULT_POINTS = ["encodec_24khz@6", "dac_16khz@6", "opus@12"]
SAVED_KEY = "codec-arena-listening"  # localStorage key of {test id: participant token}
# A participant's link shows only their test: the page marks itself and CSS hides the tabs and the intro.
PARTICIPANT_JS = """() => {
  const q = new URLSearchParams(location.search);
  if (q.get('test') && !q.get('owner')) document.documentElement.classList.add('ca-participant');
}"""
PARTICIPANT_CSS = """.ca-participant .tab-wrapper, .ca-participant .ca-intro { display: none !important; }
.ca-participant .ca-for-teacher { display: none !important; }
.ca-participant .app { padding-left: min(32px, 2vw) !important; padding-right: min(32px, 2vw) !important; }
.ca-participant #ca-listening-trial .html-container { padding: 0 !important; }"""
SHARE_JS = """
element.addEventListener('click', async e => {
  const copy = e.target.closest('.ca-copy');
  if (copy) {  // plain http on a LAN is no secure context: no clipboard API there, so select and copy
    const field = copy.parentElement.querySelector('input');
    try {
      if (window.isSecureContext && navigator.clipboard) await navigator.clipboard.writeText(field.value);
      else { field.focus(); field.select(); document.execCommand('copy'); }
      copy.textContent = 'Copied ✓';
    } catch (err) { field.focus(); field.select(); copy.textContent = 'Press Ctrl+C'; }
    setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
  }
  const full = e.target.closest('.ca-qr-full');
  const box = full && element.querySelector('.ca-qr');
  if (box && box.requestFullscreen) box.requestFullscreen();
});
"""
SHARE_CSS = """
.ca-share{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.ca-share .ca-share-links{flex:3 1 320px;display:flex;flex-direction:column;gap:6px}
.ca-share label{font-weight:600;margin-top:6px}
.ca-share .ca-copy-row{display:flex;gap:8px}
.ca-share input.ca-link{flex:1;min-width:0;padding:8px;border:1px solid var(--border-color-primary);border-radius:6px;
  font-family:ui-monospace,monospace;font-size:.9em;background:var(--background-fill-secondary)}
.ca-share button,.ca-share a.ca-download{padding:8px 14px;border-radius:6px;
  border:1px solid var(--border-color-primary);background:var(--button-secondary-background-fill);cursor:pointer;
  text-decoration:none;color:inherit;white-space:nowrap}
.ca-share a.ca-download{align-self:flex-start;margin-top:4px}
.ca-qr{flex:2 1 240px;background:#fff;display:flex;flex-direction:column;align-items:center;justify-content:center;
  gap:8px;padding:8px;border-radius:8px}
.ca-qr svg{width:min(100%,300px);height:auto}
.ca-qr:fullscreen svg{width:min(85vh,85vw)}
.ca-qr .ca-qr-link{font-size:.85em;word-break:break-all;text-align:center;color:#000}
.ca-qr:fullscreen .ca-qr-link{font-size:2.2vw}
"""


# --- teacher ------------------------------------------------------------------------------------
@gpu(duration=300)
def render_on_gpu(draft: service.Draft, cache_dir, progress=gr.Progress()):
    """The codec work, on a ZeroGPU slice where there is one (storing stays in the app's process)."""
    return service.render_draft(draft, cache_dir, lambda f, msg: progress(f, desc=f"rendering {msg}"))


def share_html(created: dict, title: str) -> str:
    """Both links with copy buttons, the owner link as a file to keep (it is shown only now), and the
    participant link as a QR code for the projector."""
    link, owner = html.escape(created["participant_link"]), html.escape(created["owner_link"])
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    note = (f"Codec Arena listening test \"{title}\" (test {created['test_id']}), created {stamp}\n\n"
            f"Owner link (keep it secret: results, exports and deletion):\n{created['owner_link']}\n\n"
            f"Participant link (share it with the class):\n{created['participant_link']}\n")
    file_name = f"codec-arena-test-{created['test_id']}-owner-link.txt"
    return f"""<div class="ca-share"><div class="ca-share-links">
<label for="ca-participant-link">Participant link: share it with the class</label>
<div class="ca-copy-row"><input id="ca-participant-link" class="ca-link" readonly value="{link}">
<button class="ca-copy" type="button">Copy</button></div>
<label for="ca-owner-link">Owner link: keep it secret (results, exports, deletion).
Shown only now: copy or download it</label>
<div class="ca-copy-row"><input id="ca-owner-link" class="ca-link" readonly value="{owner}">
<button class="ca-copy" type="button">Copy</button></div>
<a class="ca-download" id="ca-owner-download" download="{html.escape(file_name)}"
 href="data:text/plain;charset=utf-8,{quote(note)}">Download the owner link (.txt)</a></div>
<div class="ca-qr" id="ca-participant-qr">{sharing.qr_svg(created["participant_link"])}
<div class="ca-qr-link">{link}</div>
<button class="ca-qr-full" type="button">Show full screen (for the projector)</button></div></div>"""


@user_errors("creating the listening test")
def create(title: str, method: str, files: list[str] | None, examples: list[str] | None, points: list[str] | None,
           per_participant: float, training: bool, instructions: str, request: gr.Request,
           progress=gr.Progress()):
    """Render and store the test; returns the summary, the share box (links, QR code) and the details (JSON)."""
    paths = list(files or []) + [str(ASSETS / name) for name in (examples or []) if name in EXAMPLES]
    base = sharing.base_url(request.headers) if request is not None else ""
    created = api.create(title, method, paths, points, per_participant, training, instructions, base,
                         renderer=lambda draft, cache_dir, _: render_on_gpu(draft, cache_dir, progress))
    link = created["participant_link"]
    warning = sharing.loopback_warning(link, sharing.served_on["host"], sharing.served_on["port"],
                                       sharing.lan_addresses())
    if created["random_weights"]:
        warning += (f"\n\n> ⚠️ **Random test weights** for {', '.join(code(p) for p in created['random_weights'])}: "
                    "those stimuli are noise. Fine for trying the app; for a real test download the weights and "
                    "create it again.")
    text = (f"### Test created: {code(created['test_id'])}\n"
            f"{shown.plural(created['trials'], 'trial')}, {created['trials_each']} per participant · stimuli "
            f"loudness-matched to {created['loudness_lufs']:g} LUFS (ITU-R BS.1770). Share the **participant "
            "link** or let the class scan the QR code; keep the **owner link** (it is shown only now: copy it or "
            f"download it).\n\n{warning}")
    return text, share_html(created, title or "Listening test"), created


def build_section():
    gr.Markdown("Pick clips and codec operating points; every stimulus is rendered once, loudness-matched and stored. "
                "You get a **participant link** (and QR code) for the class and a secret **owner link** for the "
                "results.")
    with gr.Row():
        with gr.Column():
            title = gr.Textbox(label="Title", value="Codec listening test", max_length=service.MAX_TITLE)
            method = gr.Radio(label="Method", choices=[(m.name, m.id) for m in METHODS.values()], value="mushra")
            files = gr.File(label="Clips (audio or video files; the first 15 s of each are used)",
                            file_count="multiple", file_types=None, type="filepath")
            examples = gr.CheckboxGroup(label="…or the shipped examples", choices=[e for e in EXAMPLES
                                                                                   if (ASSETS / e).exists()])
        with gr.Column():
            points = gr.Dropdown(label="Codecs @ kbps (each becomes a condition)", choices=point_choices(decoding=True),
                                 value=DEFAULT_POINTS, multiselect=True, allow_custom_value=True)
            per_participant = gr.Number(label="Trials per participant (0 = all; fewer gives each a balanced random "
                                              "subset)", value=0, precision=0, minimum=0)
            training = gr.Checkbox(label="Start with a practice trial (versions named, answer not saved)", value=True)
            instructions = gr.Textbox(label="Instructions (empty: the method's standard wording)", lines=4,
                                      max_length=service.MAX_INSTRUCTIONS,
                                      placeholder=service.default_instructions("mushra"))
            go = gr.Button("Create the test", variant="primary")
    summary = gr.Markdown(elem_id="ca-listening-created")
    share = gr.HTML(js_on_load=SHARE_JS, css_template=SHARE_CSS, elem_id="ca-listening-share")
    with gr.Accordion("Details (JSON, as `/listening_create` returns them)", open=False):
        details = gr.JSON(show_label=False)
    method.change(lambda m: gr.Textbox(placeholder=service.default_instructions(m)), method, instructions,
                  api_visibility="private")
    go.click(create, inputs=[title, method, files, examples, points, per_participant, training, instructions],
             outputs=[summary, share, details],
             api_name="listening_create", concurrency_limit=1)


# --- participant --------------------------------------------------------------------------------
PLAIN = {"mushra": "rate versions of a recording from 0 to 100", "ab": "pick which of two versions is closer",
         "ab_noref": "pick the version you like better", "abx": "say which version X is",
         "mos": "rate recordings from 1 to 5"}


def info_markdown(info: dict) -> str:
    """The participant's first screen, in plain words: no method names, no jargon."""
    n = info["trials"]
    practice = " It starts with a practice round that does not count." if info["training"] else ""
    tasks = f"{n} short task{'s' if n != 1 else ''}"
    return (f"## {md(info['title'])}\n{tasks}: you will {PLAIN[info['method']]}.{practice} Each answer is saved "
            "when you submit it, so you can close this page and open the same link again to go on.\n\n"
            f"{info['instructions']}")


@user_errors("opening the test")
def open_test(test_id: str, saved: dict | None):
    info = service.public_info(test_id)
    token = saved.get(info["id"]) if isinstance(saved, dict) else None  # the browser's own storage: any value
    label = "Start"
    if token:
        try:
            participant = service.progress_of(info["id"], token)
            label = ("See your completion code" if participant.next_position is None else
                     f"Continue ({len(participant.answered) + 1} of {len(participant.slots)})")
        except service.AccessDenied:
            pass
    return info["id"], info_markdown(info), gr.Button(label, visible=True), gr.Accordion(visible=True)


def _screen(test_id: str, token: str, note: str = ""):
    """Progress, trial markup and status for a participant's current state."""
    view = service.next_trial(test_id, token)
    if view is None:
        participant = service.progress_of(test_id, token)
        return progress_html(len(participant.answered), len(participant.slots)), done_html(
            participant.completion_code), note
    return progress_html(view.answered, view.total), trial_html(view), note


def more_note(info: dict, token: str) -> str:
    """What folds under "More" once the test has started: the instructions again, and the resume code."""
    return (f"**Instructions.** {info['instructions']}\n\n**Resume code:** {code(token)}. This browser remembers "
            "where you are; to continue on another device, open the same link there and enter this code under More.")


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
    after = (gr.Button(visible=False), gr.Textbox(visible=False), more_note(info, token), f"## {md(info['title'])}")
    if fresh and info["training"]:
        view = service.training_trial(info["id"], token)
        return session, saved, progress_html(0, info["trials"]), trial_html(view), "", *after
    return (session, saved, *_screen(info["id"], token), *after)


@user_errors("saving your answer")
def submit(session: dict | None, event: gr.EventData):
    if not session:
        raise RequestError("Your session has ended: reload the page (your answers so far are saved).")
    data = event._data or {}
    if str(data.get("training")) == "1":
        return _screen(session["test"], session["token"], "Practice done. The test starts now.")
    receipt = service.submit(session["test"], session["token"], data.get("slot"), str(data.get("answer", "")))
    note = (f"✓ Number {receipt.position + 1} was already saved." if receipt.duplicate
            else f"✓ Saved ({receipt.answered} of {receipt.total}).")
    return _screen(session["test"], session["token"], note)


def saved_tokens() -> gr.BrowserState:
    """The participant tokens this browser holds, {test id: token}. Create it outside any tab: a
    component in a tab that is not shown yet is not mounted at page load, so its stored value would
    arrive too late for the link routing."""
    return gr.BrowserState({}, storage_key=SAVED_KEY, secret=SAVED_KEY)  # fixed: tokens outlive a restart


def take_section(saved: gr.BrowserState):
    """Returns the components `open_test` fills."""
    session = gr.State(None)
    with gr.Row(elem_classes="ca-for-teacher"):  # hidden for a participant who came from a link (CSS)
        test_id = gr.Textbox(label="Test id (from the link you were given)", scale=3, max_length=40)
        open_button = gr.Button("Open", scale=1)
    info = gr.Markdown(elem_id="ca-listening-info")
    start_button = gr.Button("Start", variant="primary", visible=False, size="lg", elem_id="ca-listening-start")
    progress = gr.HTML(elem_id="ca-listening-progress")
    trial = gr.HTML(js_on_load=TRIAL_JS, css_template=TRIAL_CSS, elem_id="ca-listening-trial", padding=False)
    status = gr.Markdown(elem_id="ca-listening-status")
    with gr.Accordion("More", open=False, visible=False, elem_id="ca-listening-more") as more:
        resume_shown = gr.Markdown()
        resume = gr.Textbox(label="Continue on another device: enter the resume code you were shown there",
                            max_length=64)
    opened = [test_id, info, start_button, more]
    open_button.click(open_test, [test_id, saved], opened, api_visibility="private")
    test_id.submit(open_test, [test_id, saved], opened, api_visibility="private")
    start_button.click(start, [test_id, resume, saved],
                       [session, saved, progress, trial, status, start_button, resume, resume_shown, info],
                       api_visibility="private")
    # outside the queue: an answer and the next trial are one small, quick call (no codec work)
    trial.submit(submit, [session], [progress, trial, status], api_visibility="private", queue=False)
    return opened


# --- assembly -----------------------------------------------------------------------------------
def register_api() -> None:
    """The scriptable endpoints (creating a test is the Build section's `/listening_create`); none is
    queued behind codec work. gradio_client always talks to the queue, so participants' calls are also
    plain JSON routes outside it (`listening.http`), about 50 times cheaper."""
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
            owner_id, owner_token, result_outputs = shown.results_section()
    register_api()

    def route(saved_tokens: dict | None, request: gr.Request):
        params = dict(request.query_params) if request else {}
        test_id, owner = params.get("test", "").strip(), params.get("owner", "").strip()
        keep = [gr.update()] * (len(opened) + 2 + len(result_outputs))
        if not test_id:
            return [gr.update(), gr.update(), *keep]
        if owner:
            try:
                found = shown.show_results(test_id, owner)
            except gr.Error as error:
                found = [reason_markdown(error.message), *[gr.update()] * (len(result_outputs) - 1)]
            return [gr.Tabs(selected="listening"), gr.Tabs(selected="results"),
                    *[gr.update()] * len(opened), test_id, owner, *found]
        try:
            opened_values = open_test(test_id, saved_tokens)
        except gr.Error as error:
            opened_values = (test_id, reason_markdown(error.message), gr.update(), gr.update())
        return [gr.Tabs(selected="listening"), gr.Tabs(selected="take"), *opened_values, gr.update(), gr.update(),
                *[gr.update()] * len(result_outputs)]

    app.load(route, [saved], [tabs, sections, *opened, owner_id, owner_token, *result_outputs],
             api_visibility="private")

