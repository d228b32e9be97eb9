"""`make`'s set-up script as a user sees it on a rerun: one line about the editable install, then the
environment's python (no boxed setuptools warning on every command)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def venv_key() -> str:
    """The key scripts/env.sh names the environment by: a hash of the requirement files."""
    data = b"".join((ROOT / name).read_bytes() for name in ("requirements.txt", "requirements-dev.txt"))
    return hashlib.sha256(data).hexdigest()[:16]


@pytest.mark.skipif(Path(sys.prefix).name != f"venv-{venv_key()}",
                    reason="runs only inside the environment scripts/env.sh built (a rerun must not rebuild)")
def test_a_rerun_of_the_setup_prints_one_line_and_the_python() -> None:
    env = {"CODEC_ARENA_VENV_ROOT": str(Path(sys.prefix).parent), "PATH": "/usr/bin:/bin",
           "HOME": str(Path.home())}
    done = subprocess.run(["bash", "scripts/env.sh", "--dev"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(Path(sys.prefix) / "bin" / "python")
    assert done.stderr.splitlines() == [f"codec-arena installed from {ROOT} (editable)"], done.stderr
