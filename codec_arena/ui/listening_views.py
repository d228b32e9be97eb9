"""What a participant sees: one trial as the synced player plus its answer form, the progress bar, and
the closing screen. Markup only; `listening.py` wires it to the service.

The form sends its answer with `trigger('submit', {answer, slot})` once every version has been played
(the player marks a source played after a second of listening) and everything is rated.
"""

from __future__ import annotations

import html
import uuid

from ..listening.protocols import ACR_LABELS, MUSHRA_BANDS, NO_PREFERENCE
from ..listening.service import TrialView
from .player import PLAYER_CSS, PLAYER_JS, source_button, transport_html

TRIAL_JS = PLAYER_JS + r"""
const bands = [[80, 'Excellent'], [60, 'Good'], [40, 'Fair'], [20, 'Poor'], [0, 'Bad']];  // ITU-R BS.1534-3
function trialOf(node) { return node.closest && node.closest('.ca-trial'); }
function answerOf(trial) {
  const played = (trial.dataset.played || '').split(',').filter(Boolean);
  const needed = trial.dataset.needed.split(',');
  const answer = {played};
  let complete = needed.every(k => played.includes(k));
  const method = trial.dataset.method;
  if (method === 'mushra') {
    answer.ratings = {};
    trial.querySelectorAll('.ca-rate').forEach(r => {
      if (r.dataset.touched === '1') answer.ratings[r.dataset.key] = Number(r.value); else complete = false;
    });
  } else {
    const picked = trial.querySelector('input.ca-choice:checked');
    if (!picked) complete = false;
    else if (method === 'mos') answer.rating = Number(picked.value); else answer.choice = picked.value;
  }
  return {answer, complete, missing: needed.filter(k => !played.includes(k))};
}
function refresh(trial) {
  const {complete, missing} = answerOf(trial);
  const button = trial.querySelector('.ca-submit');
  if (!button || button.dataset.busy === '1') return;
  button.disabled = !complete && trial.dataset.training !== '1';  // practice: go on whenever ready
  trial.querySelector('.ca-todo').textContent = missing.length ? `Still to play: ${missing.join(', ')}` :
    (complete ? 'Ready to submit.' : 'Now give every answer.');
}
if (!element.__caTrialBound) {  // once per element, however often Gradio reruns this script
  element.__caTrialBound = true;
  element.addEventListener('input', e => {
    const trial = trialOf(e.target);
    if (!trial) return;
    if (e.target.classList.contains('ca-rate')) {
      e.target.dataset.touched = '1';
      const v = Number(e.target.value);
      const label = bands.find(([low]) => v >= low)[1];
      e.target.closest('.ca-rating').querySelector('.ca-value').textContent = `${v} · ${label}`;
    }
    refresh(trial);
  });
  element.addEventListener('change', e => {
    const t = trialOf(e.target);
    if (!t) return;
    if (e.target.classList.contains('ca-rate')) e.target.blur();  // keys 0-9 and space go back to the player
    refresh(t);
  });
  element.addEventListener('ca-played', e => refresh(e.target));
  element.addEventListener('click', e => {
    const button = e.target.closest('.ca-submit');
    if (!button || button.disabled) return;
    const trial = trialOf(button);
    const {answer, complete} = answerOf(trial);
    if (!complete && trial.dataset.training !== '1') return;
    button.dataset.busy = '1'; button.disabled = true; button.textContent = 'Saving…';
    setTimeout(() => {  // a refused answer leaves this trial on screen: let the participant try again
      if (button.isConnected) { button.dataset.busy = '0'; button.textContent = 'Submit'; refresh(trial); }
    }, 6000);
    trigger('submit', {answer: JSON.stringify(answer), slot: trial.dataset.slot, training: trial.dataset.training});
  });
}
"""

TRIAL_CSS = PLAYER_CSS + """
.ca-trial .ca-question{font-size:1.05em;margin:4px 0 10px}
.ca-trial .ca-rating{display:grid;grid-template-columns:150px 1fr 120px;align-items:center;gap:10px;margin:6px 0}
.ca-trial .ca-rating input[type=range]{width:100%}
.ca-trial .ca-scale{display:grid;grid-template-columns:150px 1fr 120px;gap:10px;color:#666;font-size:80%}
.ca-trial .ca-scale div.ca-bands{display:grid;grid-template-columns:repeat(5,1fr);text-align:center}
.ca-trial .ca-choices{display:flex;gap:18px;flex-wrap:wrap;margin:10px 0}
.ca-trial .ca-choices label{border:1px solid #c7c7e0;border-radius:8px;padding:8px 14px;cursor:pointer}
.ca-trial .ca-choices label:has(input:checked){background:#eef;border-color:#4f46e5}
.ca-trial .ca-submit{background:#4f46e5 !important;color:#fff !important;font-size:1.05em;padding:8px 22px !important}
.ca-trial .ca-submit:disabled{background:#a5a5c8 !important;cursor:not-allowed}
.ca-trial .ca-todo{color:#555;margin-left:12px}
.ca-trial .ca-training{background:#fff7d6;border:1px solid #f0d070;border-radius:8px;padding:6px 10px;margin-bottom:8px}
.ca-progress{height:10px;background:#e5e7eb;border-radius:5px;overflow:hidden;margin:6px 0 2px}
.ca-progress div{height:100%;background:#4f46e5}
"""

QUESTIONS = {
    "mushra": "Rate how close each version is to the Reference (0–100). One of them is the Reference itself.",
    "ab": "Which of A and B is closer to the Reference?",
    "ab_noref": "Which of A and B do you prefer?",
    "abx": "X is either A or B. Which one is it?",
    "mos": "How good is the quality of this recording?",
}


def _choices(method: str) -> str:
    if method == "mos":
        options = [(str(k), f"{k} · {v}") for k, v in ACR_LABELS.items()]
    elif method == "abx":
        options = [("A", "X is A"), ("B", "X is B")]
    else:
        options = [("A", "A"), (NO_PREFERENCE, "No preference"), ("B", "B")]
    return '<div class="ca-choices">' + "".join(
        f'<label><input type="radio" class="ca-choice" name="ca-choice" value="{value}"> {html.escape(text)}</label>'
        for value, text in options) + "</div>"


def _ratings(keys: list[str], first_index: int) -> str:
    bands = " ".join(f"<span>{label}</span>" for _, label in reversed(MUSHRA_BANDS))
    rows = [f'<div class="ca-scale"><div></div><div class="ca-bands">{bands}</div><div></div></div>']
    rows += [f'<div class="ca-rating"><span>version <b>{k}</b> (key {first_index + i})</span>'
             f'<input type="range" class="ca-rate" data-key="{k}" min="0" max="100" step="1" value="50" '
             f'aria-label="rating of {k}"><span class="ca-value">not rated</span></div>'
             for i, k in enumerate(keys)]
    return "".join(rows)


def trial_html(view: TrialView) -> str:
    """The synced player over the trial's sources, and the answer form of its method."""
    method = view.test.method
    labels = [label for label, _ in view.sources]
    keys = ["Reference"] * (view.trial.reference is not None) + view.letters
    buttons = "".join(source_button(i, label, data, key)
                      for i, ((label, data), key) in enumerate(zip(view.sources, keys, strict=True)))
    first_letter = 1 if view.trial.reference else 0
    form = (_ratings(view.letters, first_letter) if method == "mushra" else _choices(method))
    training = ('<div class="ca-training">Practice trial: the versions are named so you can learn the interface '
                "and the range of quality. This answer is not saved.</div>") if view.training else ""
    submit = "Start the test" if view.training else "Submit"
    hint = ("Listen to the whole recording, then rate it." if len(labels) == 1 else
            f"{len(labels)} versions: play, then switch between them while playing.")
    title = "Practice" if view.training else f"Trial {view.answered + 1} of {view.total}"
    whole = f' data-min-heard="{0.95 * view.seconds:.2f}"' if method == "mos" else ""  # P.800: the whole sample
    return f"""<div class="ca-player ca-trial" data-active="0" data-slot="{view.slot.position}"{whole}
 data-player-id="{uuid.uuid4().hex}" data-method="{method}" data-needed="{','.join(view.letters)}"
 data-training="{int(view.training)}">
<div><b>{html.escape(title)}</b></div>{training}
<div class="ca-question">{html.escape(QUESTIONS[method])}</div>
<div class="ca-sources">{buttons}</div>
{transport_html(view.seconds, loop=True)}
{form}
<div class="ca-row" style="margin-top:10px">
<button class="ca-submit" {'' if view.training else 'disabled'}>{submit}</button>
<span class="ca-todo">Still to play: {', '.join(view.letters)}</span></div>
<div class="ca-hint">{hint}</div></div>"""


def progress_html(answered: int, total: int, resume_code: str = "") -> str:
    share = 100 * answered / max(total, 1)
    code = (f'<span style="float:right;color:#666">resume code <code class="ca-resume">{html.escape(resume_code)}'
            "</code></span>") if resume_code else ""
    return (f'<div>{code}<b>{answered} of {total}</b> trials answered and saved</div>'
            f'<div class="ca-progress"><div style="width:{share:.1f}%"></div></div>')


def done_html(code: str | None) -> str:
    return ('<div class="ca-done"><h3>Thank you, you have finished this test.</h3>'
            f'<p>Your completion code: <b class="ca-code" style="font-size:1.4em">{html.escape(code or "")}</b></p>'
            "<p>Give it to your teacher (or paste it into the platform that sent you) to show that you took part. "
            "You can close this page now.</p></div>")
