"""A synced A/B player: every source plays at once from one clock, only one is heard.

Switching changes which gain is open, so the position is kept exactly and the switch is instant (the
MUSHRA-player technique of webMUSHRA and BeaqleJS). Keys 0–9 pick a source, space plays or
pauses; a region can be looped. Each source is a URL: Compare and the offline report put FLAC data URLs
in the markup (the report opens without a server); a listening test's trials point at files the app
serves (`listening.media`), so a screen does not carry its audio.
"""

from __future__ import annotations

import base64
import html
import uuid

from .audio import Audio, to_flac_bytes

PLAYER_JS = r"""
const host = (typeof element !== 'undefined' && element) ? element : document;
const fmt = t => { const cs = Math.round(t * 100); return `${Math.floor(cs / 6000)}:${((cs % 6000) / 100).toFixed(2).padStart(5, '0')}`; };
const players = window.__caPlayers = window.__caPlayers || new Map();

function stopAll(except) {
  for (const [root, st] of players) if (root !== except && st.ctx) { st.offset = position(st); stopNodes(st); st.playing = false; }
}
function stopNodes(st) { st.nodes.forEach(n => { try { n.src.stop(); } catch (e) {} }); st.nodes = []; }
function duration(st) { return Math.max(...st.buffers.map(b => b.duration)); }
function position(st) {
  if (!st.playing) return st.offset;
  let t = st.ctx.currentTime - st.startedAt + st.offset;
  if (st.loop) { const [a, b] = st.loop; if (t > b) t = a + ((t - a) % (b - a)); }
  else if (t >= duration(st)) { stopNodes(st); st.playing = false; st.offset = 0; return 0; }
  return Math.max(0, t);
}
const loading = window.__caLoading = window.__caLoading || new Map();  // one state per player, whichever copy of this script asks
function forget(root) {
  // Gradio may keep the player's element and swap its contents for a new value: the old sources must go
  const old = players.get(root);
  if (old) { stopNodes(old); old.ctx.close(); }
  players.delete(root); loading.delete(root);
}
function state(root) {
  // the promise is stored at once, so a second click while decoding reuses it (one AudioContext)
  const id = root.dataset.playerId || '';
  if (loading.has(root) && loading.get(root).id !== id) forget(root);
  if (!loading.has(root)) loading.set(root, Object.assign((async () => {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const urls = [...root.querySelectorAll('[data-src]')].map(b => b.dataset.src);
    const buffers = await Promise.all(urls.map(async u => ctx.decodeAudioData(await (await fetch(u)).arrayBuffer())));
    const st = {root, id, ctx, buffers, nodes: [], active: 0, playing: false, startedAt: 0, offset: 0, loop: null};
    if (root.querySelector('.ca-loop').checked)  // looping from the start (listening tests): the region set
      st.loop = [parseFloat(root.querySelector('.ca-loop-a').value), Math.min(parseFloat(root.querySelector('.ca-loop-b').value), duration(st))];
    players.set(root, st);
    return st;
  })(), {id}));
  return loading.get(root);
}
function start(st, at) {
  stopNodes(st);
  stopAll(st.root);
  if (st.loop && (at < st.loop[0] || at >= st.loop[1])) at = st.loop[0];
  const when = st.ctx.currentTime + 0.02;
  st.nodes = st.buffers.map((buffer, i) => {
    const src = st.ctx.createBufferSource();
    const gain = st.ctx.createGain();
    src.buffer = buffer;
    gain.gain.value = i === st.active ? 1 : 0;
    src.connect(gain).connect(st.ctx.destination);
    if (st.loop) { src.loop = true; src.loopStart = st.loop[0]; src.loopEnd = Math.min(st.loop[1], buffer.duration); }
    src.start(when, Math.min(at, buffer.duration));
    return {src, gain};
  });
  st.startedAt = when; st.offset = at; st.playing = true;
}
function select(st, index) {
  if (index < 0 || index >= st.buffers.length) return;
  st.active = index;
  const now = st.ctx.currentTime;
  st.nodes.forEach((n, i) => { n.gain.gain.cancelScheduledValues(now); n.gain.gain.setTargetAtTime(i === index ? 1 : 0, now, 0.003); });
  st.root.querySelectorAll('[data-src]').forEach((b, i) => b.classList.toggle('ca-active', i === index));
  st.root.querySelectorAll('.ca-pick').forEach(b => b.classList.toggle('ca-active', Number(b.dataset.index) === index));
  st.root.dataset.active = index;
}
function heard(st) {
  // a source counts as played once it was heard for a second (or most of a shorter clip; data-min-heard
  // overrides): listening tests accept an answer only when every version was played
  const now = st.ctx.currentTime, dt = st.lastTick === undefined ? 0 : now - st.lastTick;
  st.lastTick = now;
  if (!st.playing) return;
  st.heard = st.heard || st.buffers.map(() => 0);
  st.heard[st.active] += dt;
  const button = st.root.querySelectorAll('[data-src]')[st.active];
  if (button && !button.classList.contains('ca-played') &&
      st.heard[st.active] >= (parseFloat(st.root.dataset.minHeard) || Math.min(1, 0.8 * st.buffers[st.active].duration))) {
    button.classList.add('ca-played');
    st.root.dataset.played = [...st.root.querySelectorAll('[data-src].ca-played')].map(b => b.dataset.key).join(',');
    st.root.dispatchEvent(new CustomEvent('ca-played', {bubbles: true}));
  }
}
function draw() {
  for (const [root, st] of players) {
    if (!root.isConnected || st.id !== (root.dataset.playerId || '')) { forget(root); continue; }
    heard(st);
    const t = position(st);
    root.dataset.position = t.toFixed(3);
    root.querySelector('.ca-time').textContent = `${fmt(t)} / ${fmt(duration(st))}`;
    const seek = root.querySelector('.ca-seek');
    if (root.dataset.dragging !== '1') seek.value = (t / duration(st) * 1000).toFixed(0);
    root.querySelector('.ca-play').textContent = st.playing ? 'Pause' : 'Play';
  }
  requestAnimationFrame(draw);
}
async function act(root, action, arg) {
  if (action === 'plain') {
    const srcs = [...root.querySelectorAll('[data-src]')].map(b => b.dataset.src);
    root.querySelectorAll('audio[data-from]').forEach(a => { if (!a.src) a.src = srcs[Number(a.dataset.from)]; });
    return;
  }
  const st = await state(root);
  if (st.ctx.state === 'suspended') await st.ctx.resume();
  if ((action === 'select' || action === 'listen') && arg < st.buffers.length) st.active = arg;
  if (action === 'listen' && !st.playing) start(st, st.offset);
  if (action === 'play') { if (st.playing) { st.offset = position(st); stopNodes(st); st.playing = false; } else start(st, st.offset); }
  if (action === 'seek') { const t = arg * duration(st); if (st.playing) start(st, t); else st.offset = t; }
  if (action === 'loop') {
    const a = parseFloat(root.querySelector('.ca-loop-a').value), b = parseFloat(root.querySelector('.ca-loop-b').value);
    const end = Math.min(b, duration(st));
    st.loop = root.querySelector('.ca-loop').checked && end > a ? [a, end] : null;
    if (st.playing) start(st, position(st));
  }
  if (action === 'mark') {
    root.querySelector(arg === 'a' ? '.ca-loop-a' : '.ca-loop-b').value = position(st).toFixed(2);
    act(root, 'loop');
  }
  select(st, st.active);
}
if (!window.__caPlayerReady) {
  window.__caPlayerReady = true;
  document.addEventListener('pointerup', () => document.querySelectorAll('.ca-player[data-dragging]').forEach(r => delete r.dataset.dragging));
  requestAnimationFrame(draw);
  document.addEventListener('keydown', e => {
    if (e.target.closest && e.target.closest('input, textarea, [contenteditable]')) return;
    const root = [...document.querySelectorAll('.ca-player')].find(r => r.offsetParent !== null);
    if (!root) return;
    if (/^[0-9]$/.test(e.key)) { act(root, 'select', Number(e.key)); e.preventDefault(); }
    if (e.key === ' ') { act(root, 'play'); e.preventDefault(); }
  });
}
// Gradio may run this script again for the same element (a new value): bind its listeners once,
// or a click would toggle play twice
if (!host.__caPlayerBound) {
  host.__caPlayerBound = true;
  host.addEventListener('click', e => {
    const button = e.target.closest('.ca-player [data-action]');
    if (!button) return;
    const root = button.closest('.ca-player');
    act(root, button.dataset.action, button.dataset.index !== undefined ? Number(button.dataset.index) : button.dataset.arg);
  });
  host.addEventListener('change', e => {
    const root = e.target.closest && e.target.closest('.ca-player');
    if (!root) return;
    if (e.target.classList.contains('ca-seek')) { act(root, 'seek', e.target.value / 1000); e.target.blur(); }
    else if (/\bca-loop/.test(e.target.className)) act(root, 'loop');
  });
  host.addEventListener('pointerdown', e => {
    if (e.target.classList && e.target.classList.contains('ca-seek')) e.target.closest('.ca-player').dataset.dragging = '1';
  });
}
"""

PLAYER_CSS = """
.ca-player{border:1px solid #d4d4e8;border-radius:10px;padding:12px;font-family:system-ui,sans-serif}
.ca-player .ca-sources{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:10px}
.ca-player button{border:1px solid #c7c7e0;background:#f6f6fc;border-radius:7px;padding:6px 10px;cursor:pointer}
.ca-player button.ca-active{background:#4f46e5 !important;color:#fff !important;border-color:#4f46e5 !important;opacity:1 !important}
.ca-player .ca-row{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.ca-player .ca-loop-row{margin-top:6px}
.ca-player .ca-seek{flex:1;min-width:200px}
.ca-player .ca-time{font-variant-numeric:tabular-nums;min-width:120px}
.ca-player input[type=number]{width:70px}
.ca-player kbd{border:1px solid #bbb;border-radius:3px;padding:0 4px;font-size:85%}
.ca-player button.ca-active kbd{border-color:#fff;color:#fff}
.ca-player .ca-hint{color:#666;font-size:85%;margin-top:6px}
.ca-player button.ca-played:not(.ca-active)::after{content:" ✓";color:#16a34a}
"""


def data_url(audio: Audio) -> str:
    """FLAC as a data URL: the Compare player and the offline report carry their audio inside the page."""
    return "data:audio/flac;base64," + base64.b64encode(to_flac_bytes(audio)).decode()


def source_button(index: int, label: str, src: str, key: str | None = None) -> str:
    """One selectable source playing `src` (a URL, or a data URL), keyed `key` in the played list (its
    index by default)."""
    return (f'<button data-action="select" data-index="{index}" data-key="{html.escape(key or str(index))}" '
            f'data-src="{html.escape(src)}"{" class=ca-active" if index == 0 else ""}><kbd>{index}</kbd> '
            f'{html.escape(label)}</button>')


def play_row() -> str:
    """Play/pause and the shared position."""
    return """<div class="ca-row ca-transport"><button class="ca-play" data-action="play">Play</button>
<input class="ca-seek" type="range" min="0" max="1000" value="0" aria-label="position">
<span class="ca-time">0:00.00</span></div>"""


def loop_row(duration: float, loop: bool = False) -> str:
    """The loop region (on from the start when `loop`)."""
    return f"""<div class="ca-row ca-loop-row"><label><input class="ca-loop" type="checkbox"{" checked" if loop else ""}> loop</label>
from <input class="ca-loop-a" type="number" step="0.1" min="0" value="0"> s
to <input class="ca-loop-b" type="number" step="0.1" min="0" value="{duration:.2f}"> s
<button data-action="mark" data-arg="a">set start here</button><button data-action="mark" data-arg="b">set end here</button></div>"""


KEYS_HINT = ('<div class="ca-hint ca-keys">Switching keeps the playback position. Keys: <kbd>0</kbd>–<kbd>9</kbd> '
             "pick a source, <kbd>space</kbd> plays or pauses.</div>")


def transport_html(duration: float, loop: bool = False) -> str:
    """Play/pause, the shared position, the loop region and the keys."""
    return play_row() + "\n" + loop_row(duration, loop) + "\n" + KEYS_HINT


def player_html(sources: list[tuple[str, Audio]], title: str = "Synced player") -> str:
    """Markup for the player; sources[0] is the reference (key 0)."""
    buttons = "".join(source_button(i, label, data_url(audio)) for i, (label, audio) in enumerate(sources[:10]))
    plain = "".join(f'<div class="ca-row"><span style="min-width:180px">{i} · {html.escape(label)}</span>'
                    f'<audio controls preload="none" data-from="{i}"></audio></div>'
                    for i, (label, _) in enumerate(sources[:10]))
    return f"""<div class="ca-player" data-active="0" data-position="0" data-player-id="{uuid.uuid4().hex}">
<div><b>{html.escape(title)}</b></div>
<div class="ca-sources">{buttons}</div>
{transport_html(sources[0][1].duration)}
<details class="ca-plain"><summary data-action="plain">Ordinary players (one per version, with download)</summary>
{plain}</details></div>"""
