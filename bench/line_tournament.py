"""A tournament of candidate lines: which sentence, if any, readers would say first in the contacts of a type pair.

Run:  python bench/line_tournament.py packets OUTDIR CANDIDATES.yaml [--contacts 12] [--seed 20261207]
      python bench/line_tournament.py tally OUTDIR

CANDIDATES.yaml maps a pair to its candidate lines, the lines said now first:

    critical/angry: ["I hear you, and I'm taking this seriously.", "I understand why that's frustrating."]
    planned/none: ["No pressure at all; it's fine if it's not for you."]

``packets`` draws, for each pair, contacts from the real-work examples (knowledge/examples, never the development
set) whose labels give that pair ("none" for a line that shows no customer type) and where no phrase of
situations.yaml matches, so no situation can lead and the pair's own lines are what the answer would show. It
writes one packet per pair: each contact with its trade, the agent's words and the bot's headline, then the
candidates in a shuffled order, for readers to judge blind, each candidate alone as the first line: "as is",
"change" or "wrong". Readers write ``verdicts_<pair>_<reader>.yaml`` beside the packets, one entry per contact
(``- contact: 1`` with ``A: {verdict: ..., reason: ...}`` for every letter).

``tally`` adds the verdicts up per candidate. Why a tournament before a panel: a panel reads one wording per
contact, so comparing wordings takes a panel each; here every reader reads every wording on the same contacts, and a
line earns its place in the short answer only where it is said as it is at least as often as judged wrong
(knowledge/scripts.yaml).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.classify import Classifier  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402

HEADLINE = {
    "critical": "Critical interaction",
    "planned": "Planned interaction",
    "stabilizing": "Stabilizing interaction",
    "surprise": "Surprise interaction",
}
INSTRUCTIONS = """You play an experienced front-line agent of the trade each contact names (or implies). For each
contact, a coaching bot has read the situation (headline) and could suggest ONE first sentence for you to say now.
Judge each candidate sentence on its own, as if it were the only line suggested: "as is" (I'd say it word for word,
here, now), "change" (right idea, but I'd reword or complete it) or "wrong" (wrong for this situation). Give a short
reason for each. Write your verdicts as YAML, one entry per contact: "- contact: 1" then "A: {verdict: as is, reason:
...}" for every letter."""
LETTERS = "ABCDEFGHIJKL"


def headline(pair: str) -> str:
    interaction, customer = pair.split("/")
    who = "No customer type stands out" if customer == "none" else f"{customer.capitalize()} customer"
    return f"{HEADLINE[interaction]} · {who}"


def contacts_by_pair(classifier: Classifier) -> dict[str, list[dict]]:
    """Real-work examples by labelled pair, leaving out any that names a situation's phrase (whether or not the
    reading would let that situation lead: a contact kept is surely answered with its pair's own lines)."""
    pairs: dict[str, list[dict]] = {}
    for example in classifier.knowledge.examples:
        if not example.source or not example.interaction:
            continue
        if classifier.read(example.text).situations:
            continue
        pair = f"{example.interaction}/{example.customer or 'none'}"
        pairs.setdefault(pair, []).append({"text": example.text, "source": example.source})
    return pairs


def write_packets(outdir: Path, candidates: dict[str, list[str]], contacts: int, seed: int) -> dict[str, int]:
    """One packet per pair, and key.json mapping every (pair, contact, letter) back to its candidate."""
    knowledge = load_knowledge()
    trades = _trades()
    pool = contacts_by_pair(Classifier(knowledge))
    rng = random.Random(seed)
    key: dict[str, int] = {}
    outdir.mkdir(parents=True, exist_ok=True)
    written = {}
    for pair, lines in candidates.items():
        if len(lines) > len(LETTERS):
            raise SystemExit(f"{pair}: at most {len(LETTERS)} candidates")
        available = pool.get(pair, [])
        chosen = rng.sample(available, min(contacts, len(available)))
        parts = [INSTRUCTIONS, ""]
        for n, contact in enumerate(chosen, 1):
            order = list(enumerate(lines))
            rng.shuffle(order)
            parts += [
                f"## Contact {n}",
                f"Trade: {trades.get(contact['source'], 'not given')}",
                f"The agent typed: {contact['text']}",
                f"The bot's reading: {headline(pair)}",
                "Candidates:",
            ]
            for letter, (index, line) in zip(LETTERS, order, strict=False):
                parts.append(f"  {letter}. {line}")
                key[f"{pair}|{n}|{letter}"] = index
            parts.append("")
        (outdir / f"packet_{_file_name(pair)}.md").write_text("\n".join(parts), encoding="utf-8")
        written[pair] = len(chosen)
    (outdir / "key.json").write_text(json.dumps({"candidates": candidates, "key": key}, indent=1), encoding="utf-8")
    return written


def tally(outdir: Path) -> dict[str, list[tuple[str, Counter[str]]]]:
    """Per pair, each candidate with its count of verdicts over every reader's file."""
    saved = json.loads((outdir / "key.json").read_text(encoding="utf-8"))
    candidates: dict[str, list[str]] = saved["candidates"]
    counts: dict[str, list[Counter[str]]] = {pair: [Counter() for _ in lines] for pair, lines in candidates.items()}
    for pair in candidates:
        for path in sorted(outdir.glob(f"verdicts_{_file_name(pair)}_*.yaml")):
            for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                for letter, verdict in entry.items():
                    if letter == "contact":
                        continue
                    index = saved["key"][f"{pair}|{entry['contact']}|{letter}"]
                    counts[pair][index][verdict["verdict"]] += 1
    return {pair: list(zip(lines, counts[pair], strict=True)) for pair, lines in candidates.items()}


def _file_name(pair: str) -> str:
    return pair.replace("/", "-")


def _trades() -> dict[str, str]:
    """The `trade` each real-work example names, by its source (the loader keeps only what the reader needs)."""
    found = {}
    for path in sorted((Path(__file__).resolve().parent.parent / "knowledge" / "examples").glob("real_work*.yaml")):
        for example in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]:
            if example.get("source") and example.get("trade"):
                found[example["source"]] = example["trade"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packets = commands.add_parser("packets")
    packets.add_argument("outdir", type=Path)
    packets.add_argument("candidates", type=Path)
    packets.add_argument("--contacts", type=int, default=12)
    packets.add_argument("--seed", type=int, default=20261207)
    counted = commands.add_parser("tally")
    counted.add_argument("outdir", type=Path)
    args = parser.parse_args()
    if args.command == "packets":
        candidates = yaml.safe_load(args.candidates.read_text(encoding="utf-8"))
        for pair, n in write_packets(args.outdir, candidates, args.contacts, args.seed).items():
            print(f"{pair}: {n} contacts")
        return
    for pair, rows in tally(args.outdir).items():
        print(pair)
        for line, c in rows:
            n = sum(c.values())
            print(f"  {c['as is']:3d} as is {c['change']:3d} change {c['wrong']:3d} wrong of {n:3d}  {line}")


if __name__ == "__main__":
    main()
