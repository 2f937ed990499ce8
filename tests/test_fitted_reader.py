"""The fitted reader kept between starts: read back only when nothing it depends on changed."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bot import disk_cache, fitted_reader
from bot.classify import Classifier
from bot.knowledge import SHIPPED_DIR, Examples, load_knowledge
from tests.conftest import shipped_knowledge

LINES = [
    "cx furious, blender smoked on day 2",
    "regular here for her usual order",
    "need a script asap",
    "we rang him about the upgrade",
]


@pytest.fixture(autouse=True)
def nothing_kept_in_this_process():
    """Each test sees only what is on disk; the fits kept in the process would otherwise answer first."""
    disk_cache.forget()
    yield
    disk_cache.forget()


def readings(classifier: Classifier) -> list:
    return [classifier.decide(classifier.read(line)) for line in LINES]


def fresh_readings() -> list:
    """Readings of a reader fitted now, from nothing stored."""
    disk_cache.forget()
    return readings(Classifier(shipped_knowledge()))


@pytest.mark.slow
def test_a_second_start_loads_the_fit_and_reads_alike(tmp_path: Path):
    first = Classifier(shipped_knowledge(), cache=tmp_path)
    (stored,) = tmp_path.glob("reader-*.pickle")
    disk_cache.forget()  # a new process
    second = Classifier(shipped_knowledge(), cache=tmp_path)
    assert list(tmp_path.glob("reader-*.pickle")) == [stored]
    assert readings(second) == readings(first) == fresh_readings()


def test_changed_examples_are_fitted_again(tmp_path: Path):
    knowledge = shipped_knowledge()
    Classifier(knowledge, cache=tmp_path)
    fewer = dataclasses.replace(knowledge, examples=knowledge.examples[:-50])
    Classifier(fewer, cache=tmp_path)
    assert len(list(tmp_path.glob("reader-*.pickle"))) == 2


def test_a_changed_cue_signal_is_fitted_again(tmp_path: Path):
    """The combiner learns from the examples' cue weights, so a weight changed with no word changed is a new fit."""
    knowledge = shipped_knowledge()
    Classifier(knowledge, cache=tmp_path)
    first, *rest = knowledge.cues
    louder = dataclasses.replace(first, signals={t: w * 2 for t, w in first.signals.items()})
    Classifier(dataclasses.replace(knowledge, cues=(louder, *rest)), cache=tmp_path)
    assert len(list(tmp_path.glob("reader-*.pickle"))) == 2


def test_a_broken_file_is_fitted_again_and_replaced(tmp_path: Path):
    Classifier(shipped_knowledge(), cache=tmp_path)
    (stored,) = tmp_path.glob("reader-*.pickle")
    stored.write_bytes(b"\x80\x05half a pickle")
    disk_cache.forget()  # a new process
    again = Classifier(shipped_knowledge(), cache=tmp_path)
    assert readings(again) == fresh_readings()
    assert fitted_reader.load(tmp_path, stored.name[len("reader-") : -len(".pickle")]) is not None


def test_a_cache_that_cannot_be_written_costs_only_time(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    classifier = Classifier(shipped_knowledge(), cache=blocked / "cache")
    assert readings(classifier) == fresh_readings()


def test_only_the_most_recent_fits_are_kept(tmp_path: Path):
    for n in range(disk_cache.KEEP + 2):
        fitted_reader.save(tmp_path, f"k{n}", {"n": n})
    assert len(list(tmp_path.glob("reader-*.pickle"))) == disk_cache.KEEP
    assert not list(tmp_path.glob(".reader-*"))


def test_a_second_reader_in_one_process_shares_the_fit():
    """The tests build hundreds of readers of one knowledge: each after the first costs a look-up, not a fit."""
    first = Classifier(shipped_knowledge())
    second = Classifier(shipped_knowledge())
    assert second.interaction_model is first.interaction_model and second.combiner is first.combiner


def test_a_value_that_cannot_be_stored_costs_only_time(tmp_path: Path):
    disk_cache.save(tmp_path, "reader", "k", {"a lambda": lambda: 0})  # pickle refuses it
    assert not list(tmp_path.iterdir())  # no half-written file left behind
    assert disk_cache.load(tmp_path, "reader", "k") is not None  # kept in the process all the same


def test_an_edited_example_file_gets_another_key(tmp_path: Path):
    """The key stands for the example files by the hash of their bytes: one label changed on disk must change it."""
    folder = tmp_path / "knowledge"
    shutil.copytree(SHIPPED_DIR, folder)
    before = load_knowledge(folder)
    path = folder / "examples" / "terse.yaml"
    text = path.read_text(encoding="utf-8")
    first = text.index("interaction: ")
    label = text[first:].split("\n", 1)[0]
    other = "interaction: surprise" if label != "interaction: surprise" else "interaction: critical"
    path.write_text(text[:first] + other + text[first + len(label) :], encoding="utf-8")
    after = load_knowledge(folder)
    assert isinstance(before.examples, Examples) and isinstance(after.examples, Examples)
    assert before.examples.digest != after.examples.digest
    assert fitted_reader.key(before, set(), {}) != fitted_reader.key(after, set(), {})
    # A selection made in code has no digest to go stale: it is keyed by what it holds.
    chosen = dataclasses.replace(before, examples=before.examples[:10])
    assert not isinstance(chosen.examples, Examples)
    assert fitted_reader.key(chosen, set(), {}) != fitted_reader.key(before, set(), {})
