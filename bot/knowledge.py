"""Loads knowledge/*.yaml, lays an organisation's folder over it, and checks every reference.

Content lives in YAML so that managers can tune it without a release; the price is that a typo
must be caught at start-up with the file and line, not discovered mid-call. Every problem found
is collected, so one run of ``check-knowledge`` lists them all.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot import disk_cache
from bot.errors import KnowledgeError

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "knowledge"

INTERACTIONS = ("stabilizing", "critical", "planned", "surprise")
CUSTOMERS = ("new", "impulsive", "educated", "angry", "loyal")
KEY_POINTS = ("education", "competence", "consistency", "opportunity", "appropriateness", "empathy")
DIMENSION_TYPES = {"interaction": INTERACTIONS, "customer": CUSTOMERS}
TYPE_IDS = frozenset(INTERACTIONS + CUSTOMERS)
SCRIPT_KINDS = ("de-escalation", "follow-up")
# A script for a reading where one dimension is still unknown ("skip" before the customer was shown).
ANY = "any"
TIP_THEMES = ("train", "checklists", "channels", "humanize", "adjust", "why")
MAX_BUTTON_LABEL = 40

# file name -> top-level list keys merged by id (None: merged by another key, handled below)
_LIST_FILES: dict[str, tuple[str, ...]] = {
    "types.yaml": ("key_points", "interactions", "customers"),
    "scripts.yaml": ("steps", "scripts"),
    "situations.yaml": ("situations",),
    "questions.yaml": ("questions",),
    "cues.yaml": ("cues",),
    "checklists.yaml": ("departments",),
    "tips.yaml": ("tips",),
}
_LANGUAGE_FILE = "language.yaml"
_EXAMPLES_DIR = "examples"


# ----------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class KeyPoint:
    id: str
    name: str
    line: str


@dataclass(frozen=True)
class InteractionType:
    id: str
    name: str
    summary: str
    key_points: tuple[str, ...]
    script_kind: str
    follow_up: str


@dataclass(frozen=True)
class CustomerType:
    id: str
    name: str
    summary: str
    needs: tuple[str, ...]
    as_secondary: str
    script_kind: str | None = None  # overrides the interaction's ("de-escalation" for angry customers)


@dataclass(frozen=True)
class Step:
    do: str
    say: str | None = None


@dataclass(frozen=True)
class HoldOn:
    """The one thing to hold on to in a reply: a key point of the interaction, said for this pair."""

    point: str
    line: str


@dataclass(frozen=True)
class Script:
    interaction: str  # an interaction id, or ANY when the contact is not known
    customer: str  # a customer id, or ANY when the customer is not known
    steps: tuple[Step, ...]
    hold_on: HoldOn
    follow_up: str | None = None


@dataclass(frozen=True)
class Situation:
    """A common situation within the type pairs, read from phrases, and the step that comes first in it.

    Args:
        when: the types the reading must have for this situation to apply, by dimension ("interaction",
            "customer"); empty means any reading.
        steps: what to do and say first, before the pair's script.
    """

    id: str
    name: str
    phrases: tuple[str, ...]
    steps: tuple[Step, ...]
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def fits(self, interaction: str | None, customer: str | None) -> bool:
        """Whether a reading with these types allows this situation; a type not known yet rules nothing out."""
        read = {"interaction": interaction, "customer": customer}
        return all(read[dimension] is None or read[dimension] in types for dimension, types in self.when.items())

    @property
    def pinned(self) -> dict[str, str]:
        """The dimensions this situation exists within one type of, and that type: its lines assume it."""
        return {dimension: types[0] for dimension, types in self.when.items() if len(types) == 1}


@dataclass(frozen=True)
class Option:
    id: str
    label: str
    synonyms: tuple[str, ...]
    signals: dict[str, float]
    # The agent says the contact shows nothing of what the question asks ("calm, nothing stands out"): the
    # coach stops asking and answers for any type of it, rather than keep a guess the agent could not back.
    shows_nothing: bool = False


@dataclass(frozen=True)
class Question:
    id: str
    asks: str
    text: str
    when: tuple[str, ...]
    options: tuple[Option, ...]

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Cue:
    id: str
    phrases: tuple[str, ...]
    signals: dict[str, float]
    # Words that, just before a phrase or just after it ("her toddler is screaming", "a screaming baby"), make it
    # someone else's: noise from a child or a pet says nothing of the customer (DOMAIN.md rule 12).
    unless_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Language:
    abbreviations: dict[str, str]
    emoji: dict[str, str]
    negators: frozenset[str]
    negation_breakers: frozenset[str]
    agent_talk: tuple[str, ...] = ()
    # Words that belong to one trade only; a sample sentence with one would not fit every agent.
    trade_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Example:
    """A labelled situation the reader learns from; a type left None is one the text does not show."""

    text: str
    interaction: str | None
    customer: str | None
    secondary: str | None
    source: str | None = None  # where a situation from real work was told (its account's address)


class Examples(tuple[Example, ...]):
    """The examples as read from their files, with ``digest``: a hash of the files' bytes they were read from.

    Why: the fitted reader is kept under a name that must change whenever an example does (bot/fitted_reader.py).
    Reading the files already hashed their bytes; carrying that hash here spares hashing every example's text again
    at each start. It lives on the tuple, not beside it on ``Knowledge``: ``dataclasses.replace(knowledge,
    examples=...)`` then gives a plain tuple, with no digest to go stale.
    """

    digest: str

    def __new__(cls, examples: tuple[Example, ...], digest: str) -> Examples:
        made = super().__new__(cls, examples)
        made.digest = digest
        return made


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    aliases: tuple[str, ...]
    items: tuple[str, ...]


@dataclass(frozen=True)
class Tip:
    id: str
    theme: str
    text: str


@dataclass(frozen=True)
class Knowledge:
    """Everything the coach knows, checked and cross-referenced."""

    key_points: dict[str, KeyPoint]
    interactions: dict[str, InteractionType]  # in precedence order
    customers: dict[str, CustomerType]  # in precedence order
    scripts: dict[tuple[str, str], Script]
    situations: tuple[Situation, ...]
    questions: dict[str, Question]
    cues: tuple[Cue, ...]
    language: Language
    examples: tuple[Example, ...]
    departments: dict[str, Department]
    tips: tuple[Tip, ...]
    sources: tuple[str, ...] = field(default=())


# ----------------------------------------------------------------------------- YAML with lines


class _Node(dict):
    """A mapping that remembers where it was written."""

    source: str = "?"
    line: int = 0
    key_lines: dict[Any, int]  # the line each key is written on


if TYPE_CHECKING:  # the safe loader's API, which both have
    _SafeLoader = yaml.SafeLoader
else:  # LibYAML's parser where installed: 5x faster start-up
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Node:
    loader.flatten_mapping(node)
    mapping = _Node()
    mapping.source = loader.name
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.MarkedYAMLError(
                problem=f"key {key!r} appears twice in the same mapping", problem_mark=key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path, problems: list[str], content: bytes | None = None) -> _Node | None:
    """The file's top mapping, or None with the problem added. ``content``: its bytes, where already read."""
    try:
        text = (path.read_bytes() if content is None else content).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}: cannot be read: {error}")
        return None
    loader = _Loader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problems.append(f"{path}:{line}: not valid YAML: {error.problem or error.context}")
        return None
    except yaml.YAMLError as error:
        problems.append(f"{path}: not valid YAML: {error}")
        return None
    finally:
        loader.dispose()
    if data is None:
        data = _Node()
        data.source, data.line = str(path), 1
    if not isinstance(data, _Node):
        problems.append(f"{path}:1: the file must be a mapping of sections, not a {type(data).__name__}")
        return None
    return data


# ----------------------------------------------------------------------------- merging


def _item_key(section: str, item: _Node) -> Any:
    if section == "scripts":
        return (item.get("interaction"), item.get("customer"))
    return item.get("id")


def _merge_lists(layers: list[_Node], section: str, problems: list[str]) -> list[_Node]:
    """Items of later layers replace earlier ones with the same key; duplicates within a layer are errors."""
    merged: dict[Any, _Node] = {}
    for layer in layers:
        items = layer.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(f"{layer.source}:{layer.line}: '{section}' must be a list")
            continue
        seen_here: dict[Any, _Node] = {}
        for item in items:
            if not isinstance(item, _Node):
                problems.append(
                    f"{layer.source}:{layer.line}: every item of '{section}' must be a mapping, got {item!r}"
                )
                continue
            key = _item_key(section, item)
            if key is None or key == (None, None):
                problems.append(f"{item.source}:{item.line}: item of '{section}' has no id")
                continue
            if key in seen_here:
                first = seen_here[key]
                problems.append(
                    f"{item.source}:{item.line}: duplicate id {_show(key)} in '{section}' (first at line {first.line})"
                )
                continue
            seen_here[key] = item
            merged.pop(key, None)  # a replaced item moves to where the overlay puts it
            merged[key] = item
    return list(merged.values())


def _show(key: Any) -> str:
    return " x ".join(map(str, key)) if isinstance(key, tuple) else repr(key)


def _layers(directories: list[Path], name: str, problems: list[str]) -> list[_Node]:
    layers = []
    for directory in directories:
        path = directory / name
        if path.is_file():
            data = _read_yaml(path, problems)
            if data is not None:
                layers.append(data)
    return layers


# ----------------------------------------------------------------------------- checking


class _Checker:
    """Reads typed fields out of nodes, recording a problem (file:line) for each mistake."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def fail(self, node: _Node, message: str) -> None:
        self.problems.append(f"{node.source}:{node.line}: {message}")

    def text(self, node: _Node, key: str, *, required: bool = True, limit: int | None = None) -> str:
        value = node.get(key)
        if value is None:
            if required:
                self.fail(node, f"missing key '{key}'")
            return ""
        if isinstance(value, bool):
            self.fail(node, f"'{key}' is an unquoted yes/no/on/off, which YAML reads as true/false: put it in quotes")
            return ""
        if isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail(node, f"'{key}' must be non-empty text")
            return ""
        if limit is not None and len(value) > limit:
            self.fail(node, f"'{key}' is {len(value)} characters; at most {limit}")
        return value.strip()

    def texts(self, node: _Node, key: str, *, required: bool = True, minimum: int = 1) -> tuple[str, ...]:
        value = node.get(key)
        if value is None:
            if required:
                self.fail(node, f"missing key '{key}'")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            self.fail(node, f"'{key}' must be a list of text")
            return ()
        if any(isinstance(v, bool) for v in value):
            self.fail(node, f"'{key}' has an unquoted yes/no/on/off, which YAML reads as true/false: put it in quotes")
            return ()
        items = tuple(str(v).strip() for v in value if str(v).strip())
        if len(items) < minimum:
            self.fail(node, f"'{key}' needs at least {minimum} item(s)")
        return items

    def one_of(self, node: _Node, key: str, allowed: tuple[str, ...], what: str) -> str:
        value = self.text(node, key)
        if value and value not in allowed:
            self.fail(node, f"unknown {what} '{value}' in '{key}' (known: {', '.join(allowed)})")
            return ""
        return value

    def ids(
        self, node: _Node, key: str, allowed: tuple[str, ...] | frozenset[str], what: str, *, required: bool = True
    ) -> tuple[str, ...]:
        values = self.texts(node, key, required=required)
        for value in values:
            if value not in allowed:
                self.fail(node, f"unknown {what} '{value}' in '{key}'")
        return tuple(v for v in values if v in allowed)

    def signals(self, node: _Node, key: str = "signals") -> dict[str, float]:
        value = node.get(key)
        if not isinstance(value, dict) or not value:
            self.fail(node, f"'{key}' must map type ids to weights")
            return {}
        signals: dict[str, float] = {}
        for type_id, weight in value.items():
            if type_id not in TYPE_IDS:
                self.fail(node, f"unknown type '{type_id}' in '{key}' (known: {', '.join(sorted(TYPE_IDS))})")
            elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or not -10 <= weight <= 10:
                self.fail(node, f"weight of '{type_id}' in '{key}' must be a number between -10 and 10")
            else:
                signals[type_id] = float(weight)
        return signals


def _check_fixed_set(check: _Checker, items: list[_Node], expected: tuple[str, ...], section: str, where: str) -> None:
    found = [item.get("id") for item in items]
    for item in items:
        if item.get("id") not in expected:
            check.fail(
                item, f"unknown {section[:-1].replace('_', ' ')} '{item.get('id')}' (known: {', '.join(expected)})"
            )
    missing = [type_id for type_id in expected if type_id not in found]
    if missing:
        check.problems.append(f"{where}: '{section}' is missing {', '.join(missing)}")


def _fixed_items(
    check: _Checker, layers: list[_Node], section: str, expected: tuple[str, ...], where: str
) -> list[_Node]:
    """The merged items of a section whose ids are a fixed set: unknown and missing ids are reported, known ones
    kept."""
    items = _merge_lists(layers, section, check.problems)
    _check_fixed_set(check, items, expected, section, where)
    return [n for n in items if n.get("id") in expected]


def _build_types(check: _Checker, layers: list[_Node], where: str):
    key_points = {
        n["id"]: KeyPoint(id=n["id"], name=check.text(n, "name"), line=check.text(n, "line"))
        for n in _fixed_items(check, layers, "key_points", KEY_POINTS, where)
    }
    interactions = {
        n["id"]: InteractionType(
            id=n["id"],
            name=check.text(n, "name"),
            summary=check.text(n, "summary"),
            key_points=check.ids(n, "key_points", KEY_POINTS, "key point"),
            script_kind=check.one_of(n, "script_kind", SCRIPT_KINDS, "script kind"),
            follow_up=check.text(n, "follow_up"),
        )
        for n in _fixed_items(check, layers, "interactions", INTERACTIONS, where)
    }
    customers = {
        n["id"]: CustomerType(
            id=n["id"],
            name=check.text(n, "name"),
            summary=check.text(n, "summary"),
            needs=check.texts(n, "needs"),
            as_secondary=check.text(n, "as_secondary"),
            script_kind=check.one_of(n, "script_kind", SCRIPT_KINDS, "script kind") if "script_kind" in n else None,
        )
        for n in _fixed_items(check, layers, "customers", CUSTOMERS, where)
    }
    return key_points, interactions, customers


def _build_step(check: _Checker, node: _Node) -> Step:
    return Step(do=check.text(node, "do", limit=200), say=check.text(node, "say", required=False, limit=300) or None)


def _build_steps(check: _Checker, node: _Node, shared: dict[str, Step], *, limits: tuple[int, int]) -> tuple[Step, ...]:
    raw_steps = node.get("steps")
    steps: list[Step] = []
    low, high = limits
    if not isinstance(raw_steps, list) or not low <= len(raw_steps) <= high:
        check.fail(node, f"'steps' must be a list of {low} to {high} step ids or steps")
        raw_steps = raw_steps if isinstance(raw_steps, list) else []
    for raw in raw_steps:
        if isinstance(raw, str):
            if raw in shared:
                steps.append(shared[raw])
            else:
                check.fail(node, f"unknown step '{raw}' (not in 'steps')")
        elif isinstance(raw, _Node):
            steps.append(_build_step(check, raw))
        else:
            check.fail(node, f"a step must be a step id or a mapping with 'do', got {raw!r}")
    return tuple(steps)


def _build_scripts(
    check: _Checker, layers: list[_Node], where: str, key_points: dict[str, tuple[str, ...]]
) -> tuple[dict[tuple[str, str], Script], dict[str, Step]]:
    """Scripts by (interaction, customer), ANY standing for a type not yet known; and the shared steps by id."""
    shared = {n["id"]: _build_step(check, n) for n in _merge_lists(layers, "steps", check.problems)}
    scripts: dict[tuple[str, str], Script] = {}
    for node in _merge_lists(layers, "scripts", check.problems):
        interaction = check.one_of(node, "interaction", (*INTERACTIONS, ANY), "interaction type")
        customer = check.one_of(node, "customer", (*CUSTOMERS, ANY), "customer type")
        steps = _build_steps(check, node, shared, limits=(3, 6))
        hold_on = _build_hold_on(check, node, key_points.get(interaction, KEY_POINTS))
        if interaction and customer:
            scripts[(interaction, customer)] = Script(
                interaction=interaction,
                customer=customer,
                steps=steps,
                hold_on=hold_on,
                follow_up=check.text(node, "follow_up", required=False) or None,
            )
    pairs = [(i, c) for i in (*INTERACTIONS, ANY) for c in (*CUSTOMERS, ANY)]
    missing = [f"{i} x {c}" for i, c in pairs if (i, c) not in scripts]
    if missing:
        check.problems.append(f"{where}: no script for {', '.join(missing)}")
    return scripts, shared


def _build_hold_on(check: _Checker, node: _Node, points: tuple[str, ...]) -> HoldOn:
    raw = node.get("hold_on")
    if not isinstance(raw, _Node):
        check.fail(node, "missing 'hold_on' ({point: key point id, line: one plain sentence})")
        return HoldOn(point="", line="")
    point = check.one_of(raw, "point", points, "key point for this interaction")
    return HoldOn(point=point, line=check.text(raw, "line", limit=120))


def _build_situations(check: _Checker, layers: list[_Node], shared: dict[str, Step]) -> tuple[Situation, ...]:
    situations = []
    for node in _merge_lists(layers, "situations", check.problems):
        when: dict[str, tuple[str, ...]] = {}
        raw_when = node.get("when") or {}
        if not isinstance(raw_when, dict):
            check.fail(node, "'when' must map 'interaction' or 'customer' to a list of type ids")
            raw_when = {}
        for dimension, types in raw_when.items():
            if dimension not in DIMENSION_TYPES:
                check.fail(node, f"unknown dimension '{dimension}' in 'when' (known: interaction, customer)")
                continue
            holder = _Node({"types": types})
            holder.source, holder.line = node.source, node.line
            when[dimension] = check.ids(holder, "types", DIMENSION_TYPES[dimension], f"{dimension} type")
        situations.append(
            Situation(
                id=node["id"],
                name=check.text(node, "name", limit=80),
                phrases=tuple(p.lower() for p in check.texts(node, "phrases")),
                steps=_build_steps(check, node, shared, limits=(1, 2)),
                when=when,
            )
        )
    return tuple(situations)


_NUMBER = re.compile(r"\d")
_SLOT = re.compile(r"\[[^\]]*\]")
_SENTENCE_END = re.compile(r"[.!?:;]\s+|\s+[-–—]\s+")
_ALWAYS_CAPITALISED = frozenset({"I", "I'm", "I'll", "I'd", "I've"})


def fits_any_trade(sentence: str, trade_words: frozenset[str]) -> str | None:
    """What in a sample sentence may not fit every agent, or None.

    A sentence an agent reads aloud must not invent a fact the agent never gave: no number, no
    person's name (a capital inside a sentence), no word that belongs to one trade. A specific the
    agent must fill in goes in a plain slot: "by [time]".
    """
    plain = _SLOT.sub("", sentence)
    if _NUMBER.search(plain):
        return "has a number (say it in general terms, or leave a slot like [time])"
    inner = [w.strip("“”\"'(),.!?") for part in _SENTENCE_END.split(plain) for w in part.split()[1:]]
    names = [w for w in inner if w[:1].isupper() and w not in _ALWAYS_CAPITALISED]
    if names:
        return f"has a capitalised word inside a sentence ({names[0]!r}): no names, days or brands"
    words = set(re.findall(r"[a-z]+(?:'[a-z]+)?", plain.lower()))
    trade = sorted(w for w in words if w in trade_words)
    if trade:
        return f"has a word of one trade ({', '.join(trade)}): say it so any agent can use it"
    return None


def _check_sayings(check: _Checker, layers: list[_Node], trade_words: frozenset[str]) -> None:
    """Every sample sentence and hold-on line, where it is written, held to ``fits_any_trade``."""

    def visit(node: Any) -> None:
        if isinstance(node, _Node):
            for key in ("say", "line"):
                value = node.get(key)
                if isinstance(value, str):
                    problem = fits_any_trade(value, trade_words)
                    if problem:
                        line = getattr(node, "key_lines", {}).get(key, node.line)
                        check.problems.append(f"{node.source}:{line}: '{key}' {problem}: {value!r}")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for layer in layers:
        visit(layer)


def _build_questions(check: _Checker, layers: list[_Node]) -> dict[str, Question]:
    questions: dict[str, Question] = {}
    for node in _merge_lists(layers, "questions", check.problems):
        asks = check.one_of(node, "asks", tuple(DIMENSION_TYPES), "dimension")
        allowed = DIMENSION_TYPES.get(asks, ())
        when = check.ids(node, "when", allowed, f"{asks or 'type'} type", required=False) if asks else ()
        options = []
        raw_options = node.get("options")
        if not isinstance(raw_options, list) or len(raw_options) < 2:
            check.fail(node, "'options' must list at least two options")
            raw_options = []
        seen: set[str] = set()
        for raw in raw_options:
            if not isinstance(raw, _Node):
                check.fail(node, f"an option must be a mapping, got {raw!r}")
                continue
            option_id = check.text(raw, "id")
            if option_id in seen:
                check.fail(raw, f"duplicate option id '{option_id}'")
            seen.add(option_id)
            shows_nothing = raw.get("shows_nothing", False)
            if not isinstance(shows_nothing, bool):
                check.fail(raw, "'shows_nothing' must be true or false")
                shows_nothing = False
            if shows_nothing and "signals" in raw:
                check.fail(raw, "an option that 'shows_nothing' has no 'signals': it names no type")
            options.append(
                Option(
                    id=option_id,
                    label=check.text(raw, "label", limit=MAX_BUTTON_LABEL),
                    synonyms=check.texts(raw, "synonyms", required=False, minimum=0),
                    signals={} if shows_nothing else check.signals(raw),
                    shows_nothing=shows_nothing,
                )
            )
        questions[node["id"]] = Question(
            id=node["id"], asks=asks, text=check.text(node, "text", limit=150), when=when, options=tuple(options)
        )
    for dimension in DIMENSION_TYPES:
        if not any(q.asks == dimension and not q.when for q in questions.values()):
            check.problems.append(f"questions.yaml: no general question (without 'when') asks for the {dimension}")
    return questions


def _build_language(check: _Checker, layers: list[_Node], where: str) -> Language:
    abbreviations: dict[str, str] = {}
    emoji: dict[str, str] = {}
    negators: set[str] = set()
    breakers: set[str] = set()
    agent_talk: list[str] = []
    trade_words: set[str] = set()
    for layer in layers:
        for key, target in (("abbreviations", abbreviations), ("emoji", emoji)):
            value = layer.get(key, {})
            if not isinstance(value, dict):
                check.fail(layer, f"'{key}' must map text to its replacement")
                continue
            for short, full in value.items():
                if not isinstance(full, str) or not str(short).strip():
                    check.fail(layer, f"'{key}': the replacement of {short!r} must be text")
                else:
                    target[str(short).lower() if key == "abbreviations" else str(short)] = full.lower()
        negators.update(w.lower() for w in check.texts(layer, "negators", required=False, minimum=0))
        breakers.update(w.lower() for w in check.texts(layer, "negation_breakers", required=False, minimum=0))
        agent_talk.extend(
            p.lower()
            for p in check.texts(layer, "agent_talk", required=False, minimum=0)
            if p.lower() not in agent_talk
        )
        trade_words.update(w.lower() for w in check.texts(layer, "trade_words", required=False, minimum=0))
    if not layers and not (Path(where) / _LANGUAGE_FILE).is_file():
        check.problems.append(f"{where}/{_LANGUAGE_FILE}: missing file")
    return Language(
        abbreviations=abbreviations,
        emoji=emoji,
        negators=frozenset(negators),
        negation_breakers=frozenset(breakers),
        agent_talk=tuple(agent_talk),
        trade_words=frozenset(trade_words),
    )


def _build_examples(check: _Checker, directories: list[Path], cache: Path | None) -> tuple[Example, ...]:
    """Every example file's examples, checked. Reading them is most of start-up (some thirty thousand lines of YAML),
    so a checked result is kept (bot/disk_cache.py) under a hash of the very bytes it was read from, of this module
    and of the YAML loader, and read back while none of them changes. A file with a problem is read, and reported,
    at every start: only a result with no problem is kept."""
    paths = [
        path
        for directory in directories
        if (directory / _EXAMPLES_DIR).is_dir()
        for path in sorted((directory / _EXAMPLES_DIR).glob("*.yaml"))
    ]
    contents: list[bytes | None] = []
    for path in paths:
        try:
            contents.append(path.read_bytes())
        except OSError:
            contents.append(None)  # parsing reports it
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(f"{yaml.__version__} {_SafeLoader.__name__} {sys.version}".encode())
    for path, content in zip(paths, contents, strict=True):
        for part in (path.name.encode(), content or b""):
            digest.update(len(part).to_bytes(8, "big") + part)
    name = digest.hexdigest()[:32]
    complete = all(content is not None for content in contents)
    kept = disk_cache.load(cache, _EXAMPLES_DIR, name) if complete else None
    if isinstance(kept, tuple):
        return Examples(kept, name)
    problems_before = len(check.problems)
    examples = _read_examples(check, paths, contents)
    if complete and len(check.problems) == problems_before:
        disk_cache.save(cache, _EXAMPLES_DIR, name, examples)
        return Examples(examples, name)
    return examples


def _read_examples(check: _Checker, paths: list[Path], contents: list[bytes | None]) -> tuple[Example, ...]:
    examples: list[Example] = []
    for path, content in zip(paths, contents, strict=True):
        data = _read_yaml(path, check.problems, content)
        if data is None:
            continue
        unknown = set(data) - {"examples"}
        if unknown:
            check.fail(data, f"unknown section(s) {', '.join(sorted(map(str, unknown)))} (expected 'examples')")
        items = data.get("examples", [])
        if not isinstance(items, list):
            check.fail(data, "'examples' must be a list")
            continue
        for node in items:
            if not isinstance(node, _Node):
                check.fail(data, f"every example must be a mapping, got {node!r}")
                continue
            # `interaction: null` is a situation that does not say what the contact is about (DOMAIN.md rule 12).
            unstated = "interaction" in node and node["interaction"] is None
            interaction = None if unstated else check.one_of(node, "interaction", INTERACTIONS, "interaction type")
            customer = (
                check.one_of(node, "customer", CUSTOMERS, "customer type") if node.get("customer") is not None else None
            )
            secondary = check.one_of(node, "secondary", CUSTOMERS, "customer type") if "secondary" in node else None
            text = check.text(node, "text", limit=1000)
            if text and (interaction or unstated):
                examples.append(
                    Example(
                        text=text,
                        interaction=interaction,
                        customer=customer or None,
                        secondary=secondary or None,
                        source=check.text(node, "source", required=False) or None,
                    )
                )
    return tuple(examples)


def load_knowledge(
    directory: str | Path | None = None, *, overlay: str | Path | None = None, cache: Path | None = None
) -> Knowledge:
    """Load and check knowledge from ``directory`` (the shipped folder by default) with ``overlay`` laid over it.

    ``cache``: a directory where the checked examples are kept between starts (bot/disk_cache.py); with None they
    are kept in this process only.

    Raises:
        KnowledgeError: listing every problem as "file:line: what is wrong".
    """
    base = Path(directory) if directory else SHIPPED_DIR
    directories = [base] + ([Path(overlay)] if overlay else [])
    problems: list[str] = []
    for folder in directories:
        if not folder.is_dir():
            problems.append(f"{folder}: knowledge folder not found")
    if problems:
        raise KnowledgeError(problems)
    check = _Checker(problems)
    where = str(base)

    layers_by_file = {name: _layers(directories, name, problems) for name in (*_LIST_FILES, _LANGUAGE_FILE)}
    for name, sections in _LIST_FILES.items():
        if not any((folder / name).is_file() for folder in directories):
            problems.append(f"{base / name}: missing file")
        for layer in layers_by_file[name]:
            unknown = set(layer) - set(sections)
            if unknown:
                check.fail(
                    layer, f"unknown section(s) {', '.join(sorted(map(str, unknown)))} (expected {', '.join(sections)})"
                )
    language_sections = {"abbreviations", "emoji", "negators", "negation_breakers", "agent_talk", "trade_words"}
    for layer in layers_by_file[_LANGUAGE_FILE]:
        unknown = set(layer) - language_sections
        if unknown:
            check.fail(
                layer,
                f"unknown section(s) {', '.join(sorted(map(str, unknown)))} (expected "
                f"{', '.join(sorted(language_sections))})",
            )

    key_points, interactions, customers = _build_types(check, layers_by_file["types.yaml"], f"{where}/types.yaml")
    scripts, shared_steps = _build_scripts(
        check,
        layers_by_file["scripts.yaml"],
        f"{where}/scripts.yaml",
        {i: t.key_points for i, t in interactions.items()},
    )
    situations = _build_situations(check, layers_by_file["situations.yaml"], shared_steps)
    questions = _build_questions(check, layers_by_file["questions.yaml"])
    cues = tuple(
        Cue(
            id=n["id"],
            phrases=tuple(p.lower() for p in check.texts(n, "phrases")),
            signals=check.signals(n),
            unless_by=tuple(w.lower() for w in check.texts(n, "unless_by", required=False)),
        )
        for n in _merge_lists(layers_by_file["cues.yaml"], "cues", problems)
    )
    language = _build_language(check, layers_by_file[_LANGUAGE_FILE], where)
    _check_sayings(check, layers_by_file["scripts.yaml"] + layers_by_file["situations.yaml"], language.trade_words)
    examples = _build_examples(check, directories, cache)
    departments = {
        n["id"]: Department(
            id=n["id"],
            name=check.text(n, "name"),
            aliases=tuple(a.lower() for a in check.texts(n, "aliases", required=False, minimum=0)),
            items=check.texts(n, "items"),
        )
        for n in _merge_lists(layers_by_file["checklists.yaml"], "departments", problems)
    }
    tips = tuple(
        Tip(id=n["id"], theme=check.one_of(n, "theme", TIP_THEMES, "tip theme"), text=check.text(n, "text", limit=600))
        for n in _merge_lists(layers_by_file["tips.yaml"], "tips", problems)
    )
    if layers_by_file["tips.yaml"] and not tips:
        problems.append(f"{where}/tips.yaml: no tips")
    if problems:
        raise KnowledgeError(problems)
    return Knowledge(
        key_points=key_points,
        interactions={
            i: interactions[i] for i in _precedence(layers_by_file["types.yaml"], "interactions", INTERACTIONS)
        },
        customers={c: customers[c] for c in _precedence(layers_by_file["types.yaml"], "customers", CUSTOMERS)},
        scripts=scripts,
        situations=situations,
        questions=questions,
        cues=cues,
        language=language,
        examples=examples,
        departments=departments,
        tips=tips,
        sources=tuple(str(d) for d in directories),
    )


def _precedence(layers: list[_Node], section: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """The order of types as the first layer that lists them all writes it (the shipped file by default)."""
    for layer in reversed(layers):
        ids: list[Any] = [n.get("id") for n in layer.get(section, []) if isinstance(n, _Node)]  # YAML, checked before
        if sorted(ids) == sorted(known):
            return tuple(ids)
    return known
