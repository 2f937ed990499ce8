"""Work kept between starts, named by a hash of everything it was made from.

Why: start-up has a budget of 1.5 s, and two of its steps depend only on files that rarely change: reading the
example files (thousands of YAML mappings, a fifth of a second) and fitting the reader on them (about a second). Each
is done once and stored under a name its caller derives from all of its inputs, so a later start with the same inputs
reads it back in a few hundredths of a second, and a change to any input makes a new name: a stale result is never
read. An unreadable or half-written file is ignored and the work done again.

Results are also kept in the process (the KEEP most recent of each kind), so that a second reader of the same
knowledge (the tests build hundreds) costs a look-up. A file is a pickle in the user's own cache directory, as
trusted as the code beside it. Saving is best effort: a read-only or full disk costs start-up time, never a start.
Nothing an agent typed is in it: only what the knowledge files hold.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

KEEP = 4  # results kept per kind and directory: a few knowledge sets (an overlay, a test's) need not redo the work
_IN_PROCESS: dict[str, OrderedDict[str, Any]] = {}


def default_directory() -> Path:
    """$XDG_CACHE_HOME/frontline-coach, else ~/.cache/frontline-coach, as the XDG base-directory spec says."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "frontline-coach"


def load(directory: Path | None, kind: str, name: str) -> Any | None:
    """The ``kind`` result stored under ``name`` (in this process, else in ``directory``), or None where there is
    none or it cannot be read."""
    kept = _IN_PROCESS.setdefault(kind, OrderedDict())
    if name in kept:
        kept.move_to_end(name)
        return kept[name]
    if directory is None:
        return None
    path = directory / f"{kind}-{name}.pickle"
    try:
        with path.open("rb") as file:
            value = pickle.load(file)
    except Exception:  # missing, truncated, from another version of a class: do the work again
        return None
    try:
        os.utime(path)  # most recently used, so pruning keeps it
    except OSError:  # pruned meanwhile by another process: what was read still holds
        pass
    _remember(kind, name, value)
    return value


def save(directory: Path | None, kind: str, name: str, value: Any) -> None:
    """Keep ``value`` in this process, and store it atomically (a whole file or none) in ``directory``, then drop
    all but the KEEP most recent of its kind there."""
    _remember(kind, name, value)
    if directory is None:
        return
    temporary: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{kind}-", delete=False) as file:
            temporary = file.name
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, directory / f"{kind}-{name}.pickle")
        temporary = None
        stored = sorted(directory.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in stored[KEEP:]:
            old.unlink(missing_ok=True)
    except Exception:  # a full or read-only disk, a file pruned by another process, a value that won't pickle
        pass
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _remember(kind: str, name: str, value: Any) -> None:
    kept = _IN_PROCESS.setdefault(kind, OrderedDict())
    kept[name] = value
    kept.move_to_end(name)
    while len(kept) > KEEP:
        kept.popitem(last=False)


def forget() -> None:
    """Drop what is kept in this process, so that the next load reads from disk or does the work (tests)."""
    _IN_PROCESS.clear()
