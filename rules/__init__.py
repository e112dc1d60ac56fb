"""The rules core: policy packs as data, the evaluator and the school calendar. Pure."""

from rules.evaluator import evaluate
from rules.models import Case, Decision
from rules.packs import Pack, UnknownPolicy, known_policy_ids, load_all_packs, load_pack

__all__ = [
    "Case",
    "Decision",
    "Pack",
    "UnknownPolicy",
    "evaluate",
    "known_policy_ids",
    "load_all_packs",
    "load_pack",
]
