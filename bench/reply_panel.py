"""Packets for a reader panel: the short answers the console shows, grouped by trade, for readers to judge blind.

Run:  python bench/reply_panel.py OUTDIR [--per-trade 4] [--skip 0] [--data FILE]
      python bench/reply_panel.py OUTDIR --tally   (the verdicts readers wrote beside the packets, added up)

``--skip N`` passes over the first N situations of each family, and ``--data`` reads another labelled file
(default tests/data/real_dev.yaml), for a panel on situations that an earlier panel (and a revision made
from its verdicts) has not seen.

Each situation of tests/data/real_dev.yaml is played through the dialog as its agent would: a
question is answered by the option that fits the line's labels; where the label says the line does
not show it, by the option that says so (``shows_nothing``), or skipped where the question has none.
The answer before "More" is written, as the console renders it, into one packet per trade family,
with a numbered list of the lines to say. Labels and sources are left out: a reader sees what the
agent would see. Verdicts are collected with the rubric in PANEL_RUBRIC, one YAML file per packet
(``verdict_NN.yaml`` for ``packet_NN.md``), and ``--tally`` adds them up: the share of lines said as they are, changed
and judged wrong (the reply issue's bar), how often the headline and "Hold on to" fit, and how many answers with no
line had the reader want one.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.console import render  # noqa: E402
from bot.coach import Coach  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.messages import Incoming, Reply  # noqa: E402
from bot.store.memory import MemoryStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {  # a reader per family, each playing an agent of that trade
    "hotel": (
        "hotel",
        "motel",
        "hostel",
        "airbnb",
        "vacation rental",
        "holiday let",
        "holiday cottage",
        "b&b",
        "bed and breakfast",
        "innkeeper",
        "concierge",
        "resort",
    ),
    "electronics, phone or computer shop": (
        "electronics",
        "phone store",
        "phone shop",
        "phone network",
        "mobile phone",
        "computer",
    ),
    "restaurant, cafe or takeaway": (
        "restaurant",
        "cafe",
        "bartender",
        "bar manager",
        "waitress",
        "waiter",
        "pizza",
        "deli counter",
        "store deli",
        "supermarket deli",
        "ice cream",
        "fast food",
        "barista",
        "diner",
        "dining",
        "cater",
        "taco",
        "coffee",
        "donut",
        "drive-thru",
        "cake",
        "food truck",
        "takeaway",
        "burger",
    ),
    "gym, salon, cinema, library or museum": (
        "gym",
        "health club",
        "esthetician",
        "personal trainer",
        "barber",
        "nail",
        "spa ",
        "day spa",
        "tattoo",
        "massage",
        "colorist",
        "photograph",
        "tailor",
        "dog walker",
        "pet sitter",
        "daycare",
        "groom",
        "salon",
        "lash",
        "stylist",
        "hairstylist",
        "cinema",
        "amusement park",
        "waterpark",
        "zoo",
        "arena",
        "golf",
        "ski school",
        "campground",
        "rv park",
        "box office",
        "theatre",
        "theater",
        "librar",
        "museum",
    ),
    "clinic, pharmacy or vet": (
        "chiropract",
        "gp",
        "pharmacy",
        "vet",
        "clinic",
        "doctor",
        "hospital",
        "pharmacist",
        "surgeon",
        "phlebotomist",
        "care home",
        "physio",
        "optom",
        "optical",
        "dental",
        "optician",
        "medical",
        "nurse",
        "ambulance",
        "chemist",
    ),
    "shop": (
        "retail",
        "till ",
        "shop counter",
        "supermarket",
        "grocery",
        "cashier",
        "book",
        "appliance",
        "electronics",
        "store",
        "drugstore",
        "superstore",
        "florist",
        "bakery",
        "home baker",
        "bike shop",
        "pet shop",
        "shoe",
        "bridal",
        "garden",
        "beauty",
        "menswear",
        "dry clean",
        "charity shop",
        "sports shop",
        "jewel",
        "sweet shop",
        "boutique",
        "guitar shop",
        "photo counter",
        "vintage",
        "wine shop",
        "secondhand",
        "shop owner",
        "shop front",
        "suit shop",
        "wedding",
        "hardware",
        "gift shop",
        "paint desk",
        "key counter",
    ),
    "counter services (post office, letting or estate agent, tax)": (
        "post office",
        "self-storage",
        "jobcentre",
        "copy and print",
        "parcel pickup",
        "passport",
        "financial aid",
        "postmistress",
        "postmaster",
        "realtor",
        "real estate",
        "property manager",
        "landlord",
        "housing",
        "letting",
        "estate agent",
        "tax ",  # not "taxi"
        "dmv",
        "school office",
        "council",
        "visitor centre",
        "attendance office",
        "welfare",
        "social security",
    ),
    "car dealership or repair workshop": (
        "car dealer",
        "independent garage",
        "mot tester",
        "motorcycle",
        "towing",
        "body shop",
        "breakdown",
        "car wash",
        "parking",
        "dealership",
        "car workshop",
        "car sales",
        "mechanic",
        "auto",
        "repair",
        "tyre",
        "tire",
        "lube",
        "oil change",
    ),
    "bank or insurance": (
        "bank",
        "credit union",
        "insurance",
        "card",
        "building society",
        "mortgage",
        "accountant",
        "pawn",
        "western union",
        "money transfer",
        "remittance",
    ),
    # Care homes stay with the clinics' reader, whose family names them first.
    "funeral home, assisted living or childcare": (
        "funeral",
        "assisted living",
        "childcare",
        "preschool",
        "early years",
    ),
    "airline, travel or transport": (
        "airline",
        "airport",
        "travel",
        "taxi",
        "courier",
        "driver",
        "car rental",
        "truck rental",
        "tour guide",
        "cabin crew",
        "underground",
        "mail carrier",
        "letter carrier",
        "city carrier",
        "coach station",
        "flight attendant",
        "cruise",
        "amtrak",
        "rail",
        "conductor",
        "theme park",
        "train guard",
    ),
    "trades on call (locksmith, electrician, plumber, pest control)": (
        "locksmith",
        "electric",
        "plumb",
        "pest",
        "contractor",
        "handyman",
        "cleaner",
        "cleaning",
        "hvac",
        "apartment manager",
        "tow ",
        "garage door",
        "moving",
        "roadside",
        "installer",
        "removals",
        "mover",
    ),
    "call centre or help desk (sales, support, utilities)": (
        "telesales",
        "service desk",
        "hosting",
        "saas",
        "customer success",
        "game master",
        "telecom",
        "helpline",
        "collector",
        "call handler",
        "billing",
        "fault line",
        "survey",
        "phonathon",
        "cold caller",
        "newspaper",
        "avon",
        "supplier",
        "fundraiser",
        "canvass",
        "collections",
        "customer service",
        "cell phone",
        "telemarketing",
        "call centre",
        "support",
        "sales",
        "subscription",
        "help desk",
        "delivery",
        "it ",
        "genius",
        "outage",
        "utility",
        "research",
        "helpdesk",
        "telemarketer",
        "school ict",
        "ict technician",
        "ict support",
        "business it",
        "network admin",
        "sysadmin",
        "it service",
    ),
}
PANEL_RUBRIC = """You work in: {family}. A coaching bot answered your colleagues' messages below, mid-contact.
For each numbered line to say, pick exactly one: "as is" (I would say this as it is), "change" (I'd have
to change it before saying it), "wrong" (wrong for this situation). Also say in one sentence whether the
headline and "Hold on to" fit. Judge only what is shown; you cannot ask the bot anything.
Write your verdicts for this packet as YAML, one entry per situation:
- situation: 1
  lines: [{{n: 1, verdict: as is, reason: "..."}}]   # every numbered line; [] where there is none
  headline: {{fits: yes, reason: ""}}
  hold: {{fits: no, reason: "..."}}
  no_line: null   # or {{want: yes, line: "..."}} where there are no numbered lines"""


# A trade word counts where it begins a word of the trade: "it " is no part of "credit union", nor "tire" of
# "retirement", nor "ict" of "district". One that is itself the start of a longer word ("tax" of "taxi", "spa" of
# "spanish") ends in a space.
_FAMILY_WORDS = {
    family: re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, words)) + ")")
    for family, words in FAMILIES.items()
}


def family_of(trade: str) -> str | None:
    trade = trade.lower()
    return next((family for family, words in _FAMILY_WORDS.items() if words.search(trade)), None)


async def play(coach: Coach, item: dict, n: int) -> Reply:
    """The answer reached when the agent answers every question truthfully from the line's labels."""
    knowledge = coach.knowledge
    person: dict[str, Any] = dict(platform="console", workspace="panel", conversation="c", user=f"u{n}")
    (reply,) = await coach.handle(Incoming(**person, text=item["text"]))
    for _ in range(6):
        if reply.kind != "question":
            return reply
        question = next(q for q in knowledge.questions.values() if q.text == reply.title)
        truth = item.get("interaction") if question.asks == "interaction" else item.get("customer")
        if truth is None:
            nothing = next((o for o in question.options if o.shows_nothing), None)
            if nothing is None:
                (reply,) = await coach.handle(Incoming(**person, text="skip"))
                continue
            option = nothing
        else:
            option = max(question.options, key=lambda o: o.signals.get(truth, 0.0))
        value = next(c.value for c in reply.choices if c.value.endswith(f"|{option.id}"))
        (reply,) = await coach.handle(Incoming(**person, choice=value))
    return reply


def tally(outdir: Path) -> dict[str, Any]:
    """The panel's figures from every ``verdict_NN.yaml`` in ``outdir``."""
    lines: Counter[str] = Counter()
    fits: dict[str, Counter[bool]] = {"headline": Counter(), "hold": Counter()}
    answers = wanted = no_line = 0
    for path in sorted(outdir.glob("verdict_*.yaml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            answers += 1
            lines.update(line["verdict"] for line in entry.get("lines") or [])
            for part in fits:
                fits[part][entry[part]["fits"] in (True, "yes")] += 1
            if entry.get("no_line"):
                no_line += 1
                wanted += entry["no_line"].get("want") in (True, "yes")
    return {"answers": answers, "lines": lines, "fits": fits, "no_line": no_line, "want_one": wanted}


def print_tally(figures: dict[str, Any]) -> None:
    total = sum(figures["lines"].values()) or 1
    shares = ", ".join(
        f"{figures['lines'][v]} {v} ({figures['lines'][v] / total:.1%})" for v in ("as is", "change", "wrong")
    )
    print(f"{figures['answers']} answers, {sum(figures['lines'].values())} lines: {shares}")
    for part, counts in figures["fits"].items():
        print(f"  {part} fits {counts[True]} of {counts[True] + counts[False]}")
    print(f"  answers with no line: {figures['no_line']}, of them the reader wanted one: {figures['want_one']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--per-trade", type=int, default=4)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--data", type=Path, default=ROOT / "tests/data/real_dev.yaml")
    parser.add_argument("--tally", action="store_true", help="add up the verdicts written beside the packets")
    args = parser.parse_args()
    if args.tally:
        print_tally(tally(args.outdir))
        return
    items = yaml.safe_load(args.data.read_text(encoding="utf-8"))
    coach = Coach(knowledge=load_knowledge(ROOT / "knowledge"), store=MemoryStore())
    by_family: dict[str, list[dict]] = {}
    seen: dict[str, int] = {}
    for item in items:
        family = family_of(item.get("trade", ""))
        if family is None:
            continue
        seen[family] = seen.get(family, 0) + 1
        if seen[family] > args.skip and len(by_family.setdefault(family, [])) < args.per_trade:
            by_family[family].append(item)
    args.outdir.mkdir(parents=True, exist_ok=True)
    n = 0
    for index, (family, chosen) in enumerate(by_family.items(), 1):
        parts = [PANEL_RUBRIC.format(family=family), ""]
        for k, item in enumerate(chosen, 1):
            n += 1
            reply = await play(coach, item, n)
            shown = render(reply).split("\n  [1] ")[0]
            parts += [
                f"## Situation {k}",
                f"The agent typed: {item['text']}",
                "",
                "The bot answered:",
                "```",
                shown,
                "```",
                "",
            ]
        (args.outdir / f"packet_{index:02d}.md").write_text("\n".join(parts), encoding="utf-8")
    print(f"{n} answers in {len(by_family)} packets under {args.outdir}")


if __name__ == "__main__":
    asyncio.run(main())
