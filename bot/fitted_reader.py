"""The fitted reader kept on disk between starts, keyed by everything it was fitted from.

Why: counting every example's features and fitting the combiner takes about a second, against a start-up budget
of 1.5 s, and its result depends only on the knowledge, the code that reads it and the dictionary of English words.
So the result is stored (bot/disk_cache.py) under a hash of all three, and a later start with the same inputs loads
it in a few hundredths of a second. Nothing an agent typed is in it: only the example files' counts.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from bot import disk_cache
from bot.knowledge import Examples, Knowledge

KIND = "reader"
_CODE = ("text.py", "model.py", "combiner.py", "classify.py", "fitted_reader.py")


def key(knowledge: Knowledge, lexicon: set[str], settings: dict[str, Any]) -> str:
    """A name that changes whenever anything the fit depends on changes.

    ``lexicon``: the lexicon's words a typo may be mended to (the rest of that vocabulary comes from the examples).
    ``settings``: the reader's constants the fit uses, as they are now (a benchmark may change them at run time).
    Examples read from their files carry a hash of those files (``Examples.digest``), which stands for them; any
    other tuple of examples (a test's or a benchmark's selection) is written out whole.
    Sets are sorted first: their order changes with PYTHONHASHSEED, and two starts must agree.
    """
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _CODE:
        digest.update((here / name).read_bytes())
    language = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(knowledge.language).items()}
    inputs = {
        "python": sys.version,
        "spellchecker": metadata.version("pyspellchecker"),
        "numpy": metadata.version("numpy"),
        "settings": settings,
        "language": language,
        "lexicon": sorted(lexicon),
        # The combiner learns from each example's cue weights, so a cue's signals are an input as much as its words.
        "cues": [(c.id, c.phrases, sorted(c.signals.items()), c.unless_by) for c in knowledge.cues],
        "examples": knowledge.examples.digest
        if isinstance(knowledge.examples, Examples)
        else [(e.text, e.interaction, e.customer, e.source) for e in knowledge.examples],
    }
    digest.update(json.dumps(inputs, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:32]


def load(directory: Path | None, name: str) -> dict[str, Any] | None:
    """The fit stored under ``name`` (in this process, else in ``directory``), or None where there is none or it
    cannot be read."""
    fitted = disk_cache.load(directory, KIND, name)
    return fitted if isinstance(fitted, dict) else None


def save(directory: Path | None, name: str, fitted: dict[str, Any]) -> None:
    """Keep ``fitted`` in this process and, best effort, in ``directory``."""
    disk_cache.save(directory, KIND, name, fitted)
