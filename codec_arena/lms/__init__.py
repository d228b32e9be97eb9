"""Codec language models: models that write codec tokens, and cards for those that cannot run here."""

from .base import TASKS, Generation, GenerationRequest, LMCard, LMInfo
from .registry import estimate_seconds, generate, get_lm, list_lms, lm_info, models_for, weight_spec

__all__ = ["TASKS", "Generation", "GenerationRequest", "LMCard", "LMInfo", "estimate_seconds", "generate",
           "get_lm", "list_lms", "lm_info", "models_for", "weight_spec"]
