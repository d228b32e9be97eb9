"""What a participant sees: one trial as the synced player plus its answer form, the progress bar, and
the closing screen. Markup only; `listening.py` wires it to the service.

Built for a class of phones: touch only, 360–400 px wide. The versions and Play stay at the top of
the screen while the answers scroll; every MUSHRA version has its own row (a button that plays it,
the band labels, a full-width slider). Loop controls and keyboard keys fold under "More".

Every trial starts blank. Gradio patches a new trial into the same element (a DOM diff), which keeps
a radio's `checked` and a slider's position from the trial before; the script therefore resets the
form whenever the trial's id changes. A slider shows no thumb until it is touched, so its start is
not a rating. The form sends its answer with `trigger('submit', {answer, slot})` once every version
has been played (the player marks a source played after a second of listening) and every answer was
given on this trial.
"""

from __future__ import annotations

import html
import uuid

from ..listening.protocols import ACR_LABELS, MUSHRA_BANDS, NO_PREFERENCE
from ..listening.service import TrialView
from ..player import KEYS_HINT, PLAYER_CSS, PLAYER_JS, loop_row, play_row, source_button

TRIAL_JS = PLAYER_JS + r"""
const bands = [[80, 'Excellent'], [60, 'Good'], [40, 'Fair'], [20, 'Poor'], [0, 'Bad']];  // ITU-R BS.1534-3
function trialOf(node) { return node.closest && node.closest('.ca-trial'); }
function answerOf(trial) {
  const played = (trial.dataset.played || '').split(',').filter(Boolean);
  const needed = trial.dataset.needed.split(',');
  const answer = {played};
  let complete = needed.every(k => played.includes(k));
  let unanswered = 0;
  const method = trial.dataset.method;
  if (method === 'mushra') {
    answer.ratings = {};
    trial.querySelectorAll('.ca-rate').forEach(r => {
      if (r.dataset.touched === '1') answer.ratings[r.dataset.key] = Number(r.value); else unanswered += 1;
    });
  } else {
    const picked = trial.querySelector('input.ca-choice:checked');
    if (!picked) unanswered = 1;
    else if (method === 'mos') answer.rating = Number(picked.value); else answer.choice = picked.value;
  }
  return {answer, complete: complete && !unanswered, unanswered, missing: needed.filter(k => !played.includes(k))};
}
function refresh(trial) {
  const {complete, missing, unanswered} = answerOf(trial);
  const played = (trial.dataset.played || '').split(',');
  trial.querySelectorAll('.ca-rating').forEach(row => row.classList.toggle('ca-played', played.includes(row.dataset.key)));
  const button = trial.querySelector('.ca-submit');
  if (!button || button.dataset.busy === '1') return;
  button.disabled = !complete && trial.dataset.training !== '1';  // practice: go on whenever ready
  const rate = trial.dataset.method === 'mushra' ? `Rate ${unanswered === 1 ? 'one more version' : `${unanswered} more versions`}.` : 'Choose your answer.';
  trial.querySelector('.ca-todo').textContent = missing.length ? `Listen to: ${missing.join(', ')}` :
    (complete ? 'Ready to submit.' : rate);
}
function showRating(slider) {
  const row = slider.closest('.ca-rating');
  if (!row) return;
  const v = Number(slider.value);
  row.querySelector('.ca-value').textContent = slider.dataset.touched === '1' ?
    `${v} · ${bands.find(([low]) => v >= low)[1]}` : 'not rated';
}
function blank(trial) {
  // a new trial in the same element: nothing of the last one's answers may show or count
  if (trial.__caFormFor === trial.dataset.playerId) return;
  trial.__caFormFor = trial.dataset.playerId;
  trial.querySelectorAll('input.ca-choice').forEach(r => { r.checked = false; });
  trial.querySelectorAll('input.ca-rate').forEach(r => { r.value = r.defaultValue; delete r.dataset.touched; showRating(r); });
  refresh(trial);
}
const THUMB = 30;  // px, the CSS thumb: the track's 0 and 100 sit half a thumb inside its ends
function isRate(node) { return node.classList && node.classList.contains('ca-rate'); }
function valueAt(slider, x) {
  const r = slider.getBoundingClientRect();
  return String(Math.round(100 * Math.min(1, Math.max(0, (x - r.left - THUMB / 2) / (r.width - THUMB)))));
}
function touch(slider) {
  slider.dataset.touched = '1';
  showRating(slider);
  refresh(trialOf(slider));
}
if (!element.__caTrialBound) {  // once per element, however often Gradio reruns this script
  element.__caTrialBound = true;
  new MutationObserver(() => element.querySelectorAll('.ca-trial').forEach(blank))
    .observe(element, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-player-id']});
  element.addEventListener('input', e => {
    const trial = trialOf(e.target);
    if (!trial) return;
    if (isRate(e.target)) touch(e.target); else refresh(trial);
  });
  // a tap is a rating even where it moves nothing: where the (hidden) thumb already sits, or on iOS Safari,
  // which moves a range's thumb only when the thumb itself is dragged; there the tap sets the value itself
  element.addEventListener('pointerdown', e => { if (isRate(e.target)) e.target.__caDown = {x: e.clientX, value: e.target.value}; });
  element.addEventListener('pointerup', e => {
    const slider = e.target;
    if (!isRate(slider)) return;
    const down = slider.__caDown || {x: e.clientX, value: slider.value};
    if (e.pointerType !== 'mouse' && Math.abs(e.clientX - down.x) < 8 && slider.value === down.value)
      slider.value = valueAt(slider, e.clientX);
    touch(slider);
  });
  element.addEventListener('change', e => {
    const t = trialOf(e.target);
    if (!t) return;
    if (isRate(e.target)) { touch(e.target); e.target.blur(); }  // keys 0-9 and space go back to the player
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
    const sent = trial.dataset.playerId;
    setTimeout(() => {  // a refused answer leaves this trial on screen: let the participant try again
      if (button.isConnected && trial.dataset.playerId === sent) {  // not once the next trial took the element
        button.dataset.busy = '0'; button.textContent = 'Submit'; refresh(trial);
      }
    }, 6000);
    trigger('submit', {answer: JSON.stringify(answer), slot: trial.dataset.slot, training: trial.dataset.training});
  });
}
element.querySelectorAll('.ca-trial').forEach(blank);
"""

TRIAL_CSS = PLAYER_CSS + """
.ca-trial{padding:10px}
.ca-trial .ca-bar{position:sticky;top:0;z-index:5;background:var(--background-fill-primary,#fff);padding:6px 0 8px;
  border-bottom:1px solid #e5e7eb;margin-bottom:8px}
.ca-trial .ca-head{display:flex;justify-content:space-between;align-items:baseline;gap:8px;flex-wrap:wrap;margin-bottom:6px}
.ca-trial .ca-todo{color:#555;font-size:.95em}
.ca-trial .ca-sources{margin-bottom:8px}
.ca-trial button{min-height:44px;min-width:44px;font-size:1em;touch-action:manipulation}
.ca-trial .ca-play{min-width:90px;font-weight:600}
.ca-trial .ca-seek{min-width:120px}
.ca-trial .ca-time{min-width:0;font-size:.9em}
.ca-trial .ca-question{font-size:1.05em;margin:4px 0 10px}
.ca-trial .ca-rating{margin:4px 0 14px}
.ca-trial .ca-rating-head{display:flex;align-items:center;gap:12px;margin-bottom:2px}
.ca-trial .ca-pick{font-weight:600;padding:6px 14px}
.ca-trial .ca-rating.ca-played .ca-pick:not(.ca-active)::after{content:" ✓";color:#16a34a}
.ca-trial .ca-value{font-variant-numeric:tabular-nums}
.ca-trial .ca-bands{display:grid;grid-template-columns:repeat(5,1fr);text-align:center;color:#666;font-size:.78em;
  line-height:1.2}
.ca-trial input.ca-rate{-webkit-appearance:none;appearance:none;display:block;width:100%;height:40px;margin:0;
  background:transparent;cursor:pointer;touch-action:pan-y}
.ca-trial input.ca-rate::-webkit-slider-runnable-track{height:10px;border-radius:5px;border:1px solid #b9b9d6;
  background:repeating-linear-gradient(to right,#ececf6 0 calc(20% - 1px),#b9b9d6 calc(20% - 1px) 20%)}
.ca-trial input.ca-rate::-moz-range-track{height:10px;border-radius:5px;border:1px solid #b9b9d6;
  background:repeating-linear-gradient(to right,#ececf6 0 calc(20% - 1px),#b9b9d6 calc(20% - 1px) 20%)}
.ca-trial input.ca-rate::-webkit-slider-thumb{-webkit-appearance:none;width:30px;height:30px;margin-top:-11px;
  border-radius:50%;background:#4f46e5;border:3px solid #fff;box-shadow:0 0 0 1px #4f46e5}
.ca-trial input.ca-rate::-moz-range-thumb{width:24px;height:24px;border-radius:50%;background:#4f46e5;
  border:3px solid #fff;box-shadow:0 0 0 1px #4f46e5}
.ca-trial input.ca-rate:not([data-touched="1"])::-webkit-slider-thumb{opacity:0}
.ca-trial input.ca-rate:not([data-touched="1"])::-moz-range-thumb{opacity:0}
.ca-trial .ca-choices{display:flex;gap:10px;flex-wrap:wrap;margin:10px 0}
.ca-trial .ca-choices label{flex:1 1 120px;display:flex;align-items:center;gap:8px;min-height:48px;
  border:1px solid #c7c7e0;border-radius:10px;padding:8px 14px;cursor:pointer}
.ca-trial .ca-choices input{width:22px;height:22px}
.ca-trial .ca-choices label:has(input:checked){background:#eef;border-color:#4f46e5}
.ca-trial .ca-submit-row{margin-top:12px}
.ca-trial .ca-submit{background:#4f46e5 !important;color:#fff !important;font-size:1.1em;padding:10px 28px !important;
  min-width:160px}
.ca-trial .ca-submit:disabled{background:#a5a5c8 !important;cursor:not-allowed}
.ca-trial .ca-training{background:#fff7d6;border:1px solid #f0d070;border-radius:8px;padding:6px 10px;margin-bottom:8px}
.ca-trial details.ca-more{margin-top:14px;color:#555}
.ca-trial details.ca-more summary{cursor:pointer;min-height:32px}
@media (hover: none), (pointer: coarse) { .ca-trial .ca-keys, .ca-trial kbd { display:none } }
@media (max-width: 480px) { .ca-trial{padding:8px 6px} .ca-trial .ca-sources button{flex:1 1 auto} .ca-trial .ca-seek{flex-basis:100%;order:3} }
.ca-progress{height:10px;background:#e5e7eb;border-radius:5px;overflow:hidden;margin:6px 0 2px}
.ca-progress div{height:100%;background:#4f46e5}
"""

QUESTIONS = {
    "mushra": "How close is each version to the Reference? Rate from 0 (bad) to 100 (excellent). One of them is "
              "the Reference itself.",
    "ab": "Which of A and B sounds closer to the Reference?",
    "ab_noref": "Which of A and B do you prefer?",
    "abx": "X is either A or B. Which one is it?",
    "mos": "How good does this recording sound?",
}


def _choices(method: str, group: str) -> str:
    if method == "mos":
        options = [(str(k), f"{k} · {v}") for k, v in ACR_LABELS.items()]
    elif method == "abx":
        options = [("A", "X is A"), ("B", "X is B")]
    else:
        options = [("A", "A"), (NO_PREFERENCE, "No preference"), ("B", "B")]
    return '<div class="ca-choices">' + "".join(
        f'<label><input type="radio" class="ca-choice" name="ca-choice-{group}" value="{value}"> '
        f"{html.escape(text)}</label>" for value, text in options) + "</div>"


def _ratings(keys: list[str], first_index: int) -> str:
    bands = "".join(f"<span>{label}</span>" for _, label in reversed(MUSHRA_BANDS))
    return "".join(
        f'<div class="ca-rating" data-key="{k}"><div class="ca-rating-head">'
        f'<button class="ca-pick" data-action="listen" data-index="{first_index + i}">▶ {k}</button>'
        f'<span class="ca-value">not rated</span></div><div class="ca-bands" aria-hidden="true">{bands}</div>'
        f'<input type="range" class="ca-rate" data-key="{k}" min="0" max="100" step="1" value="50" '
        f'aria-label="rating of {k}, 0 to 100"></div>'
        for i, k in enumerate(keys))


def trial_html(view: TrialView) -> str:
    """The synced player over the trial's sources, and the answer form of its method."""
    method = view.test.method
    keys = ["Reference"] * (view.trial.reference is not None) + view.letters
    buttons = "".join(source_button(i, label, url, key)
                      for i, ((label, url), key) in enumerate(zip(view.sources, keys, strict=True)))
    player_id = uuid.uuid4().hex
    first_letter = 1 if view.trial.reference else 0
    form = _ratings(view.letters, first_letter) if method == "mushra" else _choices(method, player_id)
    training = ('<div class="ca-training">Practice: the versions are named so you can learn how this works and '
                "hear the range of quality. This answer is not saved.</div>") if view.training else ""
    submit = "Start the test" if view.training else "Submit"
    hint = ("Listen to the whole recording, then rate it." if len(view.sources) == 1 else
            "Press Play, then switch between the versions while it plays: the position is kept.")
    title = "Practice" if view.training else f"Trial {view.answered + 1} of {view.total}"
    whole = f' data-min-heard="{0.95 * view.seconds:.2f}"' if method == "mos" else ""  # P.800: the whole sample
    return f"""<div class="ca-player ca-trial" data-active="0" data-slot="{view.slot.position}"{whole}
 data-player-id="{player_id}" data-method="{method}" data-needed="{','.join(view.letters)}"
 data-training="{int(view.training)}">
<div class="ca-bar"><div class="ca-head"><b>{html.escape(title)}</b>
<span class="ca-todo">Listen to: {', '.join(view.letters)}</span></div>
<div class="ca-sources">{buttons}</div>
{play_row()}</div>
{training}<div class="ca-question">{html.escape(QUESTIONS[method])}</div>
{form}
<div class="ca-row ca-submit-row"><button class="ca-submit" {'' if view.training else 'disabled'}>{submit}</button></div>
<div class="ca-hint">{hint}</div>
<details class="ca-more"><summary>More: repeat a part, keyboard keys</summary>
{loop_row(view.seconds, loop=True)}
{KEYS_HINT}</details></div>"""


def progress_html(answered: int, total: int) -> str:
    share = 100 * answered / max(total, 1)
    return (f'<div><b>{answered} of {total}</b> done · each answer is saved when you submit it</div>'
            f'<div class="ca-progress" role="progressbar" aria-valuenow="{answered}" aria-valuemax="{total}">'
            f'<div style="width:{share:.1f}%"></div></div>')


def done_html(code: str | None) -> str:
    return ('<div class="ca-done"><h3>Thank you, you have finished this test.</h3>'
            f'<p>Your completion code: <b class="ca-code" style="font-size:1.4em">{html.escape(code or "")}</b></p>'
            "<p>Give it to your teacher (or paste it into the platform that sent you) to show that you took part. "
            "You can close this page now.</p></div>")
