"""The fitted reader kept on disk between starts, keyed by everything it was fitted from.

Why: reading every example (over ten thousand) and counting its features is about a second of a
start-up budget of 1.5 s, and its result depends only on the knowledge, the code that reads it and
the dictionary of English words. So the result is stored once, named by a hash of all three, and a
later start with the same inputs loads it in a few hundredths of a second. A change to any input
makes a new name, so a stale fit is never read; an unreadable or half-written file is ignored and
fitted again. Nothing an agent typed is in it: only the example files' counts.

The file is a pickle in the user's own cache directory, as trusted as the code beside it. Saving
is best effort: a read-only or full disk costs start-up time, never a start.

Fits are also kept in the process (the KEEP most recent), so that a second reader of the same knowledge (the
tests build hundreds) costs a look-up, not another two seconds of fitting.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import tempfile
from collections import OrderedDict
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.knowledge import Knowledge

KEEP = 4  # fits kept per cache directory: a few knowledge sets (an overlay, a test's) need not refit each time
_CODE = ("text.py", "model.py", "combiner.py", "classify.py", "fitted_reader.py")
_IN_PROCESS: OrderedDict[str, dict[str, Any]] = OrderedDict()


def default_directory() -> Path:
    """$XDG_CACHE_HOME/frontline-coach, else ~/.cache/frontline-coach, as the XDG base-directory spec says."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "frontline-coach"


def key(knowledge: Knowledge, vocabulary: set[str], settings: dict[str, Any]) -> str:
    """A name that changes whenever anything the fit depends on changes.

    ``settings``: the reader's constants the fit uses, as they are now (a benchmark may change them at run time).
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
        "vocabulary": sorted(vocabulary),
        "examples": [(e.text, e.interaction, e.customer, e.source) for e in knowledge.examples],
    }
    digest.update(json.dumps(inputs, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:32]


def load(directory: Path | None, name: str) -> dict[str, Any] | None:
    """The fit stored under ``name`` (in this process, else in ``directory``), or None where there is none or it
    cannot be read."""
    if name in _IN_PROCESS:
        _IN_PROCESS.move_to_end(name)
        return _IN_PROCESS[name]
    if directory is None:
        return None
    path = directory / f"reader-{name}.pickle"
    try:
        with path.open("rb") as file:
            fitted = pickle.load(file)
        os.utime(path)  # most recently used, so pruning keeps it
    except Exception:  # missing, truncated, from another version of a class: fit again
        return None
    if not isinstance(fitted, dict):
        return None
    _remember(name, fitted)
    return fitted


def save(directory: Path | None, name: str, fitted: dict[str, Any]) -> None:
    """Keep ``fitted`` in this process, and store it atomically (a whole file or none) in ``directory``, then drop
    all but the KEEP most recent fits there."""
    _remember(name, fitted)
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".reader-", delete=False) as file:
            try:
                pickle.dump(fitted, file, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:
                os.unlink(file.name)
                raise
        os.replace(file.name, directory / f"reader-{name}.pickle")
        fits = sorted(directory.glob("reader-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in fits[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _remember(name: str, fitted: dict[str, Any]) -> None:
    _IN_PROCESS[name] = fitted
    _IN_PROCESS.move_to_end(name)
    while len(_IN_PROCESS) > KEEP:
        _IN_PROCESS.popitem(last=False)


def forget() -> None:
    """Drop the fits kept in this process, so that the next reader loads from disk or fits (tests of the cache)."""
    _IN_PROCESS.clear()
