"""The panel tools in bench/ that decide which lines the short answer shows: they must keep counting right."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bench import line_tournament


def test_a_tournament_gives_each_verdict_back_to_its_candidate(tmp_path: Path):
    candidates = {"critical/angry": ["First wording.", "Second wording.", "Third wording."]}
    written = line_tournament.write_packets(tmp_path, candidates, contacts=3, seed=1)
    assert written == {"critical/angry": 3}
    packet = (tmp_path / "packet_critical-angry.md").read_text(encoding="utf-8")
    assert packet.count("## Contact") == 3 and "Critical interaction · Angry customer" in packet
    key = json.loads((tmp_path / "key.json").read_text(encoding="utf-8"))["key"]
    # A reader who says the second wording as it is, changes the first and finds the third wrong, wherever each sits.
    verdict_of = {0: "change", 1: "as is", 2: "wrong"}
    entries = [
        {
            "contact": n,
            **{letter: {"verdict": verdict_of[key[f"critical/angry|{n}|{letter}"]], "reason": "-"} for letter in "ABC"},
        }
        for n in (1, 2, 3)
    ]
    (tmp_path / "verdicts_critical-angry_r1.yaml").write_text(yaml.safe_dump(entries), encoding="utf-8")
    (rows,) = line_tournament.tally(tmp_path).values()
    assert [(line, dict(c)) for line, c in rows] == [
        ("First wording.", {"change": 3}),
        ("Second wording.", {"as is": 3}),
        ("Third wording.", {"wrong": 3}),
    ]


def test_a_panel_tally_counts_lines_fits_and_the_answers_with_no_line(tmp_path: Path):
    from bench.reply_panel import tally

    entries = [
        {
            "situation": 1,
            "lines": [{"n": 1, "verdict": "as is", "reason": "-"}, {"n": 2, "verdict": "wrong", "reason": "-"}],
            "headline": {"fits": True, "reason": ""},
            "hold": {"fits": "no", "reason": "-"},
            "no_line": None,
        },
        {
            "situation": 2,
            "lines": [],
            "headline": {"fits": False, "reason": "-"},
            "hold": {"fits": "yes", "reason": ""},
            "no_line": {"want": True, "line": "-"},
        },
    ]
    (tmp_path / "verdict_01.yaml").write_text(yaml.safe_dump(entries), encoding="utf-8")
    figures = tally(tmp_path)
    assert figures["answers"] == 2 and dict(figures["lines"]) == {"as is": 1, "wrong": 1}
    assert figures["fits"]["headline"][True] == 1 and figures["fits"]["hold"][True] == 1
    assert (figures["no_line"], figures["want_one"]) == (1, 1)


def test_a_trade_goes_to_the_panel_reader_of_its_own_family():
    from bench.reply_panel import family_of

    # A trade word inside another word is not that trade: "tax" in "taxi", "ict" in "district", "it " in "credit
    # union", "tire" in "retirement".
    assert family_of("Taxi driver") == "airline, travel or transport"
    assert family_of("credit union teller") == "bank or insurance"
    assert family_of("retirement home billing office") != "car dealership or repair workshop"
    assert family_of("council tax office") == "counter services (post office, letting or estate agent, tax)"
    assert family_of("district nurse") != family_of("school ICT technician")
