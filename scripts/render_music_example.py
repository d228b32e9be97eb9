"""Render assets/music_fluidsynth_44k.flac: a short piano-and-strings phrase played by FluidSynth
with the FluidR3 General MIDI soundfont (recorded instrument samples, MIT licence).

    apt-get install fluidsynth fluid-soundfont-gm && python scripts/render_music_example.py
"""

import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

TICKS = 480  # per quarter note


def varlen(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 127:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def track(events: list[tuple[int, bytes]]) -> bytes:
    body, now = b"", 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        body += varlen(tick - now) + message
        now = tick
    body += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def notes(channel: int, program: int, seq: list[tuple[float, float, int, int]]) -> bytes:
    events = [(0, bytes([0xC0 | channel, program]))]
    for start, length, pitch, velocity in seq:
        events.append((int(start * TICKS), bytes([0x90 | channel, pitch, velocity])))
        events.append((int((start + length) * TICKS) - 1, bytes([0x80 | channel, pitch, 0])))
    return track(events)


chords = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]  # C, Am, F, G
melody = [72, 74, 76, 79, 76, 74, 72, 69, 72, 74, 72, 67, 69, 71, 74, 72]
piano = [(i * 0.5, 0.5, melody[i % 16], 90) for i in range(32)]
strings = [(bar * 4, 4, pitch, 60) for bar in range(4) for pitch in chords[bar]]
bass = [(bar * 4 + beat, 1, chords[bar][0] - 24, 80) for bar in range(4) for beat in range(4)]
tempo = track([(0, b"\xff\x51\x03" + (500000).to_bytes(3, "big"))])
midi = b"MThd" + struct.pack(">IHHH", 6, 1, 4, TICKS) + tempo + notes(0, 0, piano) + notes(1, 48, strings) \
    + notes(2, 32, bass)

with tempfile.TemporaryDirectory() as tmp:
    (Path(tmp) / "phrase.mid").write_bytes(midi)
    wav = Path(tmp) / "phrase.wav"
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", str(wav),
                    "/usr/share/sounds/sf2/FluidR3_GM.sf2", str(Path(tmp) / "phrase.mid")], check=True)
    audio, rate = sf.read(wav)
audio = audio[: int(8.5 * rate)]
fade = int(0.3 * rate)
audio[-fade:] *= np.linspace(1, 0, fade)[:, None]
out = Path(__file__).resolve().parents[1] / "assets" / "music_fluidsynth_44k.flac"
sf.write(out, audio / max(1e-9, np.abs(audio).max()) * 0.8, rate)
print(out, rate, audio.shape)
