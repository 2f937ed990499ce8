"""Knowledge loading: the shipped files are complete, and every kind of mistake names file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bot.knowledge as knowledge_module
from bot import disk_cache
from bot.errors import KnowledgeError
from bot.knowledge import ANY, CUSTOMERS, INTERACTIONS, TIP_THEMES, load_knowledge
from tests.conftest import shipped_knowledge

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_knowledge_is_complete():
    k = shipped_knowledge()
    assert list(k.interactions) == ["surprise", "critical", "planned", "stabilizing"]
    assert list(k.customers)[0] == "angry"
    assert {(i, c) for i in (*INTERACTIONS, ANY) for c in (*CUSTOMERS, ANY)} == set(k.scripts)
    assert all(3 <= len(s.steps) <= 6 for s in k.scripts.values())
    assert all(
        s.hold_on.point in (k.interactions[s.interaction].key_points if s.interaction != ANY else k.key_points)
        for s in k.scripts.values()
    )
    assert {"front-desk", "support", "sales", "marketing", "delivery", "billing"} <= set(k.departments)
    assert len(k.tips) >= 20 and {t.theme for t in k.tips} == set(TIP_THEMES)
    assert len(k.examples) >= 300
    assert {q.asks for q in k.questions.values()} == {"interaction", "customer"}


def _problems(directory: Path, overlay: Path | None = None) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory, overlay=overlay)
    return caught.value.problems


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def test_bad_yaml_names_file_and_line(knowledge_copy: Path):
    path = knowledge_copy / "tips.yaml"
    path.write_text("tips:\n  - id: a\n    text: [unclosed\n", encoding="utf-8")
    (problem,) = _problems(knowledge_copy)
    assert problem.startswith(f"{path}:") and "not valid YAML" in problem
    assert int(problem.split(":")[1]) >= 3


def test_missing_key_names_file_and_line(knowledge_copy: Path):
    path = knowledge_copy / "types.yaml"
    line = _line_of(path, "as_secondary:")
    lines = path.read_text(encoding="utf-8").splitlines()
    del lines[line - 1]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = _problems(knowledge_copy)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:") and "missing key 'as_secondary'" in problems[0]


def test_unknown_type_reference_is_reported(knowledge_copy: Path):
    path = knowledge_copy / "cues.yaml"
    text = path.read_text(encoding="utf-8")
    index = text.index("signals: {") + len("signals: {") if "signals: {" in text else None
    if index is None:
        pytest.skip("cues.yaml writes signals in block style")
    path.write_text(text[:index] + "grumpy: 1.0, " + text[index:], encoding="utf-8")
    problems = _problems(knowledge_copy)
    assert any("unknown type 'grumpy'" in p and p.startswith(f"{path}:") for p in problems)


def test_unknown_department_or_step_reference_is_reported(knowledge_copy: Path):
    path = knowledge_copy / "scripts.yaml"
    k = shipped_knowledge()
    text = path.read_text(encoding="utf-8")
    marker = "steps: ["
    assert marker in text, "scripts refer to shared steps in flow style"
    path.write_text(text.replace(marker, marker + "no-such-step, ", 1), encoding="utf-8")
    problems = _problems(knowledge_copy)
    assert any("unknown step 'no-such-step'" in p and p.startswith(f"{path}:") for p in problems)
    assert len(k.scripts) == 30  # the 20 pairs, and 10 for a type not known yet


def test_duplicate_id_names_both_lines(knowledge_copy: Path):
    path = knowledge_copy / "tips.yaml"
    first = shipped_knowledge().tips[0].id
    second = shipped_knowledge().tips[1].id
    _edit(path, f"id: {second}\n", f"id: {first}\n")
    problems = _problems(knowledge_copy)
    assert any(f"duplicate id '{first}'" in p and "first at line" in p and p.startswith(f"{path}:") for p in problems)


def test_missing_combination_and_missing_file(knowledge_copy: Path):
    (knowledge_copy / "checklists.yaml").unlink()
    path = knowledge_copy / "scripts.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("- interaction: surprise"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip().startswith("- interaction:")), len(lines))
    customer = next(line.split(":", 1)[1].strip() for line in lines[start:end] if line.strip().startswith("customer:"))
    path.write_text("\n".join(lines[:start] + lines[end:]) + "\n", encoding="utf-8")
    problems = _problems(knowledge_copy)
    assert any("checklists.yaml: missing file" in p for p in problems)
    assert any(f"no script for surprise x {customer}" in p for p in problems)


def test_overlay_replaces_by_id_and_extends(tmp_path: Path):
    overlay = tmp_path / "org"
    (overlay / "examples").mkdir(parents=True)
    tip = shipped_knowledge().tips[0]
    (overlay / "tips.yaml").write_text(
        f"tips:\n  - id: {tip.id}\n    theme: why\n    text: Our own words for this tip.\n"
        "  - id: org-only\n    theme: train\n    text: A tip only our company has.\n",
        encoding="utf-8",
    )
    (overlay / "examples" / "ours.yaml").write_text(
        "examples:\n  - text: the tractor dealer called about the harvest plan\n    interaction: planned\n    "
        "customer: loyal\n",
        encoding="utf-8",
    )
    k = load_knowledge(overlay=overlay)
    tips = {t.id: t for t in k.tips}
    assert tips[tip.id].text == "Our own words for this tip."
    assert "org-only" in tips and len(k.tips) == len(shipped_knowledge().tips) + 1
    assert len(k.examples) == len(shipped_knowledge().examples) + 1


def test_overlay_mistakes_name_the_overlay_file(tmp_path: Path):
    overlay = tmp_path / "org"
    overlay.mkdir()
    (overlay / "checklists.yaml").write_text("departments:\n  - id: kitchen\n    name: Kitchen\n", encoding="utf-8")
    problems = _problems(Path(load_knowledge().sources[0]), overlay)
    assert problems == [f"{overlay / 'checklists.yaml'}:2: missing key 'items'"]


def test_check_knowledge_command(knowledge_copy: Path):
    ok = subprocess.run(
        [sys.executable, "app.py", "check-knowledge"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "knowledge OK" in ok.stdout
    _edit(knowledge_copy / "questions.yaml", "asks: customer", "asks: weather")
    bad = subprocess.run(
        [sys.executable, "app.py", "check-knowledge", str(knowledge_copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "unknown dimension 'weather'" in bad.stderr and str(knowledge_copy / "questions.yaml") in bad.stderr


def test_an_option_that_shows_nothing_may_not_name_a_type(knowledge_copy: Path):
    path = knowledge_copy / "questions.yaml"
    _edit(path, "        shows_nothing: true\n", "        shows_nothing: true\n        signals: {new: 1.0}\n")
    line = _line_of(path, "        shows_nothing: true")
    (problem,) = _problems(knowledge_copy)
    assert problem.startswith(f"{path}:") and "'shows_nothing' has no 'signals'" in problem
    assert line - 5 <= int(problem.split(":")[1]) <= line  # the option that says it


def test_shows_nothing_must_be_true_or_false(knowledge_copy: Path):
    path = knowledge_copy / "questions.yaml"
    _edit(path, "        shows_nothing: true\n", "        shows_nothing: maybe\n")
    problems = _problems(knowledge_copy)
    assert any(p.startswith(f"{path}:") and "'shows_nothing' must be true or false" in p for p in problems), problems


def test_checked_examples_are_kept_between_starts_and_read_again_when_a_file_changes(
    knowledge_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cache = tmp_path / "cache"
    disk_cache.forget()  # a new process: nothing kept from other tests
    first = load_knowledge(knowledge_copy, cache=cache)
    (stored,) = cache.glob("examples-*.pickle")
    disk_cache.forget()  # a new process
    monkeypatch.setattr(knowledge_module, "_read_examples", _must_not_read)
    assert load_knowledge(knowledge_copy, cache=cache).examples == first.examples
    monkeypatch.undo()
    _edit(
        knowledge_copy / "examples" / "critical.yaml",
        "examples:\n",
        "examples:\n  - {text: a fresh line, interaction: critical}\n",
    )
    again = load_knowledge(knowledge_copy, cache=cache)
    assert "a fresh line" in {e.text for e in again.examples} and len(again.examples) == len(first.examples) + 1
    assert stored.exists() and len(list(cache.glob("examples-*.pickle"))) == 2


def test_a_broken_example_file_is_reported_at_every_start(knowledge_copy: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    disk_cache.forget()
    load_knowledge(knowledge_copy, cache=cache)
    path = knowledge_copy / "examples" / "critical.yaml"
    _edit(path, "examples:\n", "examples:\n  - {text: a line with no type}\n")
    for _ in range(2):
        disk_cache.forget()
        (problem,) = _problems_with_cache(knowledge_copy, cache)
        assert problem.startswith(f"{path}:") and "interaction" in problem
    assert len(list(cache.glob("examples-*.pickle"))) == 1  # only the good files' result was kept


def _must_not_read(*_: object) -> None:
    raise AssertionError("the examples were read again")


def _problems_with_cache(directory: Path, cache: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(directory, cache=cache)
    return caught.value.problems


def test_every_labelled_situation_of_an_example_exists():
    """A `situation` on an example (the one two readers chose) must name a situation that exists, or be null: a typo
    or a renamed situation would otherwise count as a miss in the situations' measure, silently."""
    import yaml

    known = {s.id for s in shipped_knowledge().situations}
    unknown = []
    for path in sorted((knowledge_module.SHIPPED_DIR / "examples").glob("*.yaml")):
        for n, example in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]):
            if "situation" in example and example["situation"] is not None and example["situation"] not in known:
                unknown.append(f"{path.name} example {n}: {example['situation']}")
    assert not unknown, unknown
