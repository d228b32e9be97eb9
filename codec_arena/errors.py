"""User-facing errors.

Every failure a person can cause or fix (a bad file, missing weights, an unknown codec) is one of
these, with a message written for that person. The CLI prints it on one line and the app shows it
as a Gradio error, so a message must stand alone: what went wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path


class CodecArenaError(Exception):
    """Base class: an expected failure whose message is shown to the user as is."""


class AudioInputError(CodecArenaError):
    """The audio could not be read, or is not something we can process."""


class RequestError(CodecArenaError):
    """A request names something that does not exist or is out of range (codec, bitrate, ...)."""


class WeightsUnavailable(CodecArenaError):
    """A model's weights are not on disk and cannot be downloaded now."""

    def __init__(self, model_id: str, looked_at: Path | str, reason: str = "") -> None:
        self.model_id, self.looked_at, self.reason = model_id, str(looked_at), reason
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"Weights for {model_id} are not available{why}. Looked for {self.looked_at}. "
            f"Fix: run `codec-arena download {model_id}` on a machine with internet access, "
            f"or copy the official checkpoint to that path."
        )

    def __reduce__(self):  # ZeroGPU sends exceptions back from a worker process by pickling them
        return type(self), (self.model_id, self.looked_at, self.reason)


class WeightsMismatch(CodecArenaError):
    """The weights on disk are not the model we describe (another revision, a damaged file)."""

    def __init__(self, model_id: str, path: Path | str, detail: str) -> None:
        self.model_id, self.path, self.detail = model_id, str(path), detail
        super().__init__(
            f"The weights for {model_id} at {self.path} are not what Codec Arena expects: {detail}. "
            f"Fix: delete that folder and run `codec-arena download {model_id}` again."
        )

    def __reduce__(self):
        return type(self), (self.model_id, self.path, self.detail)
