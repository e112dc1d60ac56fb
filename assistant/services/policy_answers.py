"""Answering questions about a local protocol by quoting it.

"Can we use a part-time timetable for behaviour?", "who needs to agree for a looked-after child?",
"how long can it last?" are answered from the user's policy pack: its cited clauses (each a
verbatim quote from the document, with its section) and the rule messages that use them. The
passages are found with BM25 (rank-bm25) over the clauses and the words of the rules around them,
with misspellings mended by rapidfuzz against the pack's vocabulary. Three common questions (is a
reason allowed, who must agree, how long) are also read from the pack's rules directly, so that
their answer states what the rule says before quoting it.

Nothing is generated: every quote comes from the pack, and below a score threshold the answer
says the protocol does not seem to cover the question instead of guessing. No model is loaded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel, ConfigDict
from rank_bm25 import BM25Okapi
from rapidfuzz import fuzz, process

from rules import Pack, load_pack
from rules.models import ROLE_LABELS
from rules.packs import CitedRule

#: Below this BM25 score the best passage is not taken as an answer.
MINIMUM_SCORE = 2.0
#: Other passages are shown only if they score at least this share of the best one.
RELATIVE_CUT = 0.55
#: A typed word is mended to a word of the pack when at least this similar (0–100).
SPELLING_SIMILARITY = 86

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class CitedPassage(BaseModel):
    """One clause of the protocol, quoted verbatim, with what the pack's rules say about it."""

    model_config = _FROZEN

    key: str
    document: str
    section: str
    quote: str
    score: float = 0.0
    notes: tuple[str, ...] = ()


class PolicyAnswer(BaseModel):
    model_config = _FROZEN

    question: str
    policy_id: str
    policy_title: str
    answered: bool
    #: What the pack's rules say in one sentence, where the question is one of the common ones.
    verdict: str | None = None
    passages: tuple[CitedPassage, ...] = ()
    #: Topics the protocol does cover, offered when the question could not be answered.
    suggestions: tuple[str, ...] = ()

    def as_text(self) -> str:
        """Plain text (Slack mrkdwn-compatible): the verdict, then each quote with its section."""
        if not self.answered:
            lines = [f"I couldn't find that in the {self.policy_title}, so I won't guess."]
            if self.suggestions:
                lines.append("You could ask: " + "; ".join(f"“{s}”" for s in self.suggestions))
            return "\n".join(lines)
        lines = [self.verdict] if self.verdict else [f"From the {self.policy_title}:"]
        for passage in self.passages:
            lines.append(f"> {passage.quote}\n— {self.policy_title}, section “{passage.section}”")
        return "\n".join(lines)


# --------------------------------------------------------------------------- vocabulary
_STOPWORDS = frozenset(
    """a an the and or of to for in on at by be is are was were it its this that these those with
    as from can could should would will may might must do does did we i you they he she our your their
    what which who whom whose when where why how if then than there here about into out up down not no
    yes so such any all some each every other only also just use used using have has had get got
    need needs needed please tell me us know okay ok want""".split()  # noqa: SIM905
)
#: Words in almost every clause; they never count as the question's subject.
_GENERIC = frozenset(
    """part time timetabl reduc pupil child children school protocol polic arrangement provision
    education student young people person""".split()  # noqa: SIM905
)
# Phrases in a question that stand for the words the pack uses.
_QUESTION_PHRASES: tuple[tuple[str, str], ...] = (
    (r"how long|how many weeks|maximum|max\b|last for|longest|duration|time limit",
     "maximum weeks time limit end date"),
    (r"who (?:needs? to|must|has to|should) agree|whose agreement|sign(?:ed)? off|agree", "agree agreement consent"),
    (r"who (?:needs? to|must|should) be (?:consulted|told|informed)|consult", "consult consulted inform"),
    (r"how often|review", "review reviewed fortnightly"),
    (r"parents?|carers?|consent|permission", "parent carer consent"),
    (r"full[\s-]time hours|how many hours|hours", "hours full-time"),
    (r"notif\w*|tell the (?:la|local authority)|inform the (?:la|local authority)",
     "notification notify local authority"),
    (r"exclu\w*", "exclusion"),
    (r"register|attendance code|code", "register authorised absence code"),
    (r"extend\w*|extension|longer than", "extension extend exceptional"),
)
_CIRCUMSTANCE_WORDS: dict[str, str] = {
    "looked_after": "looked after looked-after children in care cla lac cic virtual school social worker",
    "previously_looked_after": "previously looked after adopted special guardianship virtual school",
    "child_protection_plan": "child protection plan cp social worker safeguarding",
    "child_in_need_plan": "child in need cin social worker",
    "ehcp": "ehcp education health care plan sen send special educational needs caseworker annual review",
    "medical_needs": "medical needs health healthcare plan illness",
    "too_unwell_for_school": "unwell illness medical consultant",
    "early_help": "early help family support worker",
    "youth_justice": "youth justice offending yot",
}
_REASON_WORDS: dict[str, str] = {
    "behaviour": "behaviour behaviours behavioural challenging conduct sanction disruptive",
    "mental_health": "mental health anxiety emotional wellbeing",
    "semh": "semh social emotional mental health",
    "physical_health": "physical health illness medical injury",
    "reintegration": "reintegration return back after absence",
    "transition": "transition moving new school",
    "send_placement": "send placement ehcp special educational needs",
    "not_school_ready": "reception school ready school-ready",
    "other": "other",
}
_REASON_LABELS: dict[str, str] = {
    "behaviour": "behaviour",
    "mental_health": "mental health",
    "semh": "social, emotional and mental health (SEMH) needs",
    "physical_health": "physical health",
    "reintegration": "reintegration after a long absence",
    "transition": "a transition",
    "send_placement": "an EHCP setting that cannot meet need while a new placement is sought",
    "not_school_ready": "a Reception child who is not school-ready",
}
_REASON_IN_QUESTION: tuple[tuple[str, str], ...] = (
    (r"\bsemh\b|social,? emotional", "semh"),
    (r"\bbehaviou?r\w*|challenging|disrupti\w+|\bconduct\b|\bsanction", "behaviour"),
    (r"mental[\s-]health|anxiety|\bemotional\b", "mental_health"),
    (r"physical[\s-]health|\billness\b|\binjur\w*|\bmedical\b|\bill\b", "physical_health"),
    (r"reintegrat\w*|return(?:ing)? (?:to|after)|long absence", "reintegration"),
    (r"\btransition\w*", "transition"),
    (r"\bplacement\b", "send_placement"),
    (r"school[\s-]ready|\breception\b", "not_school_ready"),
)
_CIRCUMSTANCE_IN_QUESTION: tuple[tuple[str, str], ...] = (
    (r"previously[\s-]looked[\s-]after|adopted|special guardianship", "previously_looked_after"),
    (r"looked[\s-]after|in care\b|\bcla\b|\blac\b|\bcic\b|foster", "looked_after"),
    (r"child protection|\bcp\b", "child_protection_plan"),
    (r"child in need|\bcin\b", "child_in_need_plan"),
    (r"\behcp\b|education,? health and care", "ehcp"),
    (r"medical needs|healthcare plan", "medical_needs"),
    (r"early help|family support", "early_help"),
    (r"youth justice|\byot\b|offend", "youth_justice"),
)
_SUGGESTIONS: tuple[str, ...] = (
    "Can we use a part-time timetable for behaviour?",
    "Who needs to agree for a looked-after child?",
    "How long can it last?",
    "How often must it be reviewed?",
    "What if the parent refuses?",
)


def _stem(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("ural", "ur"), ("ings", ""), ("ing", ""), ("ed", ""),
                                ("es", ""), ("s", ""), ("e", "")):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    return word


def _words(text: str) -> list[str]:
    folded = text.casefold().replace("’", "'").replace("-", " ")
    return [w for w in re.findall(r"[a-z0-9]+", folded) if w not in _STOPWORDS]


def tokens(text: str) -> list[str]:
    return [_stem(w) for w in _words(text)]


# --------------------------------------------------------------------------- the corpus
@dataclass
class _Entry:
    key: str
    section: str
    quote: str
    notes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Index:
    pack: Pack
    entries: tuple[_Entry, ...]
    bm25: BM25Okapi
    vocabulary: tuple[str, ...]


def _when_words(rule: object) -> list[str]:
    when = getattr(rule, "when", None) or getattr(rule, "requires", None)
    if when is None:
        return []
    words = [_CIRCUMSTANCE_WORDS.get(c, c) for c in when.circumstances_any]
    words += [_REASON_WORDS.get(r, r) for r in when.reasons_any]
    return words


def _rule_notes(pack: Pack) -> Iterator[tuple[str, list[str], list[str]]]:
    """(citation key, rule messages, search tags) for every rule of the pack."""
    reasons = pack.reasons
    for rule in reasons.accepted:
        label = _REASON_LABELS.get(rule.reason, rule.reason)
        yield rule.cite, [rule.requires_message], [_REASON_WORDS.get(rule.reason, ""), f"allowed reason {label}",
                                                  *_when_words(rule)]
    for rule in reasons.ruled_out:
        yield rule.cite, [rule.message, rule.instead], [_REASON_WORDS.get(rule.reason, ""), "not allowed ruled out"]
    if reasons.unlisted_cite:
        yield reasons.unlisted_cite, [], ["exceptional circumstances reasons allowed"]
    consent = pack.consent
    yield consent.cite, [consent.missing_message], ["parent carer consent agree agreement sign"]
    yield consent.refused_cite, [consent.refused_message, consent.instead], ["parent refuses refused consent"]
    risk = pack.risk_assessment
    yield risk.cite, [risk.missing_message], ["risk assessment"]
    yield risk.unmitigated_cite, [risk.unmitigated_message], ["risk assessment concerns unmitigated safeguarding"]
    for step in pack.steps:
        yield step.cite, [step.message], [step.step.replace("_", " "), *_when_words(step)]
    for consultee in pack.consultees:
        verb = {"agree": "must agree agreement", "consult": "consult consulted", "inform": "inform told"}[
            consultee.requirement]
        yield consultee.cite, [], [ROLE_LABELS[consultee.role], verb, *_when_words(consultee)]
    yield pack.end_date.cite, [pack.end_date.message], ["end date time limit how long"]
    if pack.maximum:
        unit = "school weeks" if pack.maximum.counted_in == "school_weeks" else "weeks"
        yield pack.maximum.cite, [pack.maximum.message], [f"maximum {pack.maximum.weeks:g} {unit} how long last"]
    for rule in (pack.extension, pack.escalation):
        if rule is not None:
            yield rule.cite, [rule.message], ["extension extend beyond maximum"]
    yield pack.reviews.cite, [pack.reviews.summary], [f"review every {pack.reviews.every_weeks:g} weeks how often"]
    for band in pack.full_time_hours:
        yield band.cite, [], [f"{band.hours:g} hours full time week {' '.join(band.year_groups)}"]
    for rule in (*pack.next_steps, *pack.stops, *pack.advice):
        yield rule.cite, [rule.message, getattr(rule, "instead", "")], _when_words(rule)
    if pack.scope:
        yield pack.scope.cite, [pack.scope.message], ["age reception scope compulsory school age"]


@cache
def _index(policy_id: str) -> _Index:
    pack = load_pack(policy_id)
    entries = {key: _Entry(key, cited.section, cited.quote) for key, cited in pack.citations.items()}
    for key, notes, tags in _rule_notes(pack):
        entry = entries.get(key)
        if entry is None:
            continue
        entry.notes.extend(n for n in notes if n and n not in entry.notes)
        entry.tags.extend(t for t in tags if t)
    ordered = tuple(entries.values())
    corpus = [tokens(" ".join([e.quote, e.section, *e.notes, *e.tags])) for e in ordered]
    vocabulary = tuple(sorted({w for doc in corpus for w in doc}))
    return _Index(pack, ordered, BM25Okapi(corpus), vocabulary)


def _mend_spelling(words: Iterable[str], vocabulary: tuple[str, ...]) -> list[str]:
    known = set(vocabulary)
    mended = []
    for word in words:
        if word in known or len(word) < 5:
            mended.append(word)
            continue
        match = process.extractOne(word, vocabulary, scorer=fuzz.ratio, score_cutoff=SPELLING_SIMILARITY)
        mended.append(match[0] if match else word)
    return mended


def _query_tokens(question: str, index: _Index) -> list[str]:
    folded = question.casefold()
    expansion = [extra for pattern, extra in _QUESTION_PHRASES if re.search(pattern, folded)]
    words = _mend_spelling(tokens(question), index.vocabulary)
    return words + tokens(" ".join(expansion))


def _passage(index: _Index, key: str, score: float = 0.0) -> CitedPassage:
    cited = index.pack.cite(key)
    entry = next(e for e in index.entries if e.key == key)
    return CitedPassage(key=key, document=cited.document, section=cited.section, quote=cited.quote,
                        score=round(score, 3), notes=tuple(entry.notes))


# --------------------------------------------------------------------------- common questions
def _found(patterns: tuple[tuple[str, str], ...], text: str) -> str | None:
    for pattern, value in patterns:
        if re.search(pattern, text):
            return value
    return None


def _reason_verdict(pack: Pack, reason: str) -> tuple[str, list[str]] | None:
    label = _REASON_LABELS.get(reason, reason.replace("_", " "))
    for rule in pack.reasons.ruled_out:
        if rule.reason == reason:
            return f"*No.* {rule.message}" + (f" {rule.instead}" if rule.instead else ""), [rule.cite]
    accepted = [r for r in pack.reasons.accepted if r.reason == reason]
    if accepted:
        rule = accepted[0]
        condition = f" {rule.requires_message}" if rule.requires_message else ""
        return f"*Yes*, {label} is one of the reasons the {pack.title} accepts.{condition}", [r.cite for r in accepted]
    if pack.reasons.unlisted == "stop_unless_another_accepted" and pack.reasons.unlisted_cite:
        message = pack.reasons.unlisted_message.replace("{reasons}", label) or (
            f"{label} is not one of the circumstances the {pack.title} lists.")
        return f"*Not on its own.* {message}", [pack.reasons.unlisted_cite]
    return None


def _agreement_verdict(pack: Pack, circumstance: str | None) -> tuple[str, list[str]]:
    needed: dict[str, list[str]] = {"agree": [], "consult": [], "inform": []}
    keys: list[str] = [pack.consent.cite]
    for rule in pack.consultees:
        applies = not rule.when.circumstances_any and not rule.when.reasons_any
        if circumstance is not None and circumstance in rule.when.circumstances_any:
            applies = True
        if applies:
            label = ROLE_LABELS[rule.role]
            if label not in needed[rule.requirement]:
                needed[rule.requirement].append(label)
            if rule.cite not in keys:
                keys.append(rule.cite)
    who = "for this pupil" if circumstance else "for every pupil"
    parts = [f"The parent or carer's consent is always needed {who}."]
    if needed["agree"]:
        parts.append(f"Agreement is needed from {_join(needed['agree'])}.")
    if needed["consult"]:
        parts.append(f"The school must consult {_join(needed['consult'])}.")
    if needed["inform"]:
        parts.append(f"Inform {_join(needed['inform'])}.")
    # The consent clause goes last: the clauses naming the consultees answer the question.
    keys = keys[1:] + keys[:1] if len(keys) > 1 else keys
    return " ".join(parts), keys


def _duration_verdict(pack: Pack) -> tuple[str, list[str]]:
    if pack.maximum is None:
        return (f"The {pack.title} sets no maximum length, but the plan must have an end date. "
                f"{pack.end_date.message}"), [pack.end_date.cite]
    unit = "school weeks" if pack.maximum.counted_in == "school_weeks" else "weeks"
    keys = [pack.maximum.cite]
    verdict = f"At most {pack.maximum.weeks:g} {unit}. {pack.maximum.message}".strip()
    for rule in (pack.extension, pack.escalation):
        if rule is not None and rule.cite not in keys:
            keys.append(rule.cite)
    return verdict, keys


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _common_question(question: str, pack: Pack) -> tuple[str, list[str]] | None:
    folded = question.casefold()
    reason = _found(_REASON_IN_QUESTION, folded)
    if reason and re.search(r"\b(?:can|could|may|allowed|use|permitted|ok|okay|for|because)\b", folded):
        verdict = _reason_verdict(pack, reason)
        if verdict:
            return verdict
    if re.search(r"who\b.*\b(?:agree|consent|sign|consult|involved|approve)|whose (?:agreement|consent)|"
                 r"need(?:s)? to agree", folded):
        return _agreement_verdict(pack, _found(_CIRCUMSTANCE_IN_QUESTION, folded))
    if re.search(r"how long|how many weeks|maximum (?:length|duration)|longest|last\b", folded):
        return _duration_verdict(pack)
    return None


# --------------------------------------------------------------------------- the answer
def answer_policy_question(question: str, policy_id: str, *, limit: int = 3) -> PolicyAnswer:
    """Quote the clauses of ``policy_id``'s document that answer ``question``."""
    index = _index(policy_id)
    pack = index.pack
    query = _query_tokens(question, index)
    scores = index.bm25.get_scores(query) if query else [0.0] * len(index.entries)
    ranked = sorted(zip(index.entries, scores, strict=True), key=lambda pair: -pair[1])
    subject = {w for w in _mend_spelling(tokens(question), index.vocabulary) if w not in _GENERIC}

    chosen: list[CitedPassage] = []
    verdict = None
    common = _common_question(question, pack)
    if common is not None:
        verdict, keys = common
        by_key = {e.key: s for e, s in zip(index.entries, scores, strict=True)}
        chosen = [_passage(index, key, by_key.get(key, 0.0)) for key in dict.fromkeys(keys)]

    best = ranked[0][1] if ranked else 0.0
    relevant = [
        (entry, score) for entry, score in ranked
        if score >= max(MINIMUM_SCORE, best * RELATIVE_CUT) and _covers(entry, subject) and not math.isnan(score)
    ]
    room = max(limit - len(chosen), 0) if common is None else max(min(limit, 4) - len(chosen), 0)
    for entry, score in relevant:
        if room <= 0:
            break
        if any(p.key == entry.key for p in chosen):
            continue
        chosen.append(_passage(index, entry.key, score))
        room -= 1

    answered = bool(chosen) and (common is not None or bool(subject))
    return PolicyAnswer(
        question=question, policy_id=policy_id, policy_title=pack.title, answered=answered,
        verdict=verdict if answered else None, passages=tuple(chosen) if answered else (),
        suggestions=() if answered else _SUGGESTIONS[:3],
    )


def _covers(entry: _Entry, subject: set[str]) -> bool:
    """The passage shares a word with what the question is about (not just "part-time timetable")."""
    if not subject:
        return False
    text = set(tokens(" ".join([entry.quote, entry.section, *entry.notes, *entry.tags])))
    return bool(subject & text)


def policy_topics(policy_id: str) -> tuple[str, ...]:
    """Example questions this pack can answer, for help texts."""
    load_pack(policy_id)
    return _SUGGESTIONS


__all__ = ["CitedPassage", "CitedRule", "PolicyAnswer", "answer_policy_question", "policy_topics"]
