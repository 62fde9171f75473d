#!/usr/bin/env python3
"""Writes down, for each corpus file without one, what it holds: a second
reading, independent of services/statements (Python's XML parser for camt,
a regular expression over :61: lines for MT940/MT942). Each FILE.expect
holds the format, the number of statements and entries, and per currency
the count and sum of money in and out. A file that must be refused has a
`refused REASON` line instead of the counts, written by hand after reading
the file. Existing .expect files are never overwritten.

    python3 tests/corpus/expect.py
"""
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"LICENSE", "SOURCE.md", "README.md"}


def local(tag):
    return tag.rsplit("}", 1)[-1]


def camt(data):
    root = ET.fromstring(data)
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    m = re.search(r"camt\.(05[234])\.001\.(\d+)", ns)
    if not m:
        return None
    fmt = "CAMT_" + m.group(1)
    part = {"052": "Rpt", "053": "Stmt", "054": "Ntfctn"}[m.group(1)]
    body = next(iter(root))
    parts = [p for p in body if local(p.tag) == part]
    sums = defaultdict(lambda: [0, Decimal(0)])
    entries = 0
    for p in parts:
        for ntry in (n for n in p if local(n.tag) == "Ntry"):
            entries += 1
            amt = next(c for c in ntry if local(c.tag) == "Amt")
            ind = next(c for c in ntry if local(c.tag) == "CdtDbtInd").text.strip()
            key = ("in" if ind == "CRDT" else "out", amt.get("Ccy"))
            sums[key][0] += 1
            sums[key][1] += Decimal(amt.text.strip())
    return fmt, len(parts), entries, sums


LINE61 = re.compile(r"^:61:(\d{6})(\d{4}| {4})?(RC|RD|C|D)[A-Z]?(\d+(?:[,.]\d*)?)", re.M)


def mt(data):
    text = data.decode("utf-8", errors="replace")
    interim = bool(re.search(r"\{2:[IO]942", text)) or (
        bool(re.search(r"^:(34F|13D|90D|90C):", text, re.M)) and not re.search(r"^:6[02][FM]:", text, re.M)
    )
    statements = len(re.findall(r"^:20:", text, re.M))
    # The currency of each entry: that of the latest :60a: (MT940) or :34F: (MT942).
    sums = defaultdict(lambda: [0, Decimal(0)])
    entries = 0
    currency = None
    for m in re.finditer(r"^:(60[FM]|34F):[CD]?\d{0,6}([A-Z]{3})|" + LINE61.pattern[1:], text, re.M):
        if m.group(2):
            currency = m.group(2)
            continue
        mark, amount = m.group(5), m.group(6)
        entries += 1
        key = ("in" if mark in ("C", "RD") else "out", currency)
        sums[key][0] += 1
        sums[key][1] += Decimal(amount.replace(",", ".").rstrip("."))
    return ("MT942" if interim else "MT940"), statements, entries, sums


def describe(path):
    data = path.read_bytes()
    head = data.lstrip(b"\xef\xbb\xbf \r\n\t")
    try:
        got = camt(data) if head.startswith(b"<") else mt(data)
    except (ET.ParseError, StopIteration, AttributeError) as e:
        return f"# the second reading failed ({type(e).__name__}); review by hand\n"
    if got is None:
        return "# not a camt message; review by hand\n"
    fmt, statements, entries, sums = got
    lines = [f"format {fmt}", f"statements {statements}", f"entries {entries}"]
    for (way, ccy), (n, total) in sorted(sums.items()):
        lines.append(f"{way} {ccy} {n} {total.normalize():f}")
    return "\n".join(lines) + "\n"


def main():
    written = 0
    for path in sorted(HERE.glob("*/*")):
        if path.name in SKIP or path.suffix == ".expect" or not path.is_file():
            continue
        expect = path.with_name(path.name + ".expect")
        if not expect.exists():
            expect.write_text(describe(path))
            written += 1
    print(f"{written} written", file=sys.stderr)


if __name__ == "__main__":
    main()
