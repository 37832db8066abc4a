"""Summarise an Autobahn|Testsuite fuzzingclient report (used by scripts/autobahn.sh).

    python3 scripts/autobahn_report.py REPORT_DIR [--findings FILE.md]

Reads REPORT_DIR/index.json (agent -> case id -> {behavior, behaviorClose,
reportfile, ...}), prints a table of behaviours per case group (the case id's
first number), then every case that did not pass with the suite's own
description, expectation, observed result and the expected and received
events (from the per-case JSON report).
Exits 1 if any case's behavior is FAILED, NON-STRICT or UNIMPLEMENTED or its
behaviorClose is anything but OK or INFORMATIONAL, and 2 if the report is
missing or holds no case.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from typing import Any, Dict, List, Tuple

BEHAVIORS = ["OK", "NON-STRICT", "FAILED", "UNIMPLEMENTED", "INFORMATIONAL"]
BAD = {"FAILED", "NON-STRICT", "UNIMPLEMENTED"}
CLOSE_OK = {"OK", "INFORMATIONAL"}


def case_key(case_id: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in case_id.split("."))


def load(report_dir: str) -> Dict[str, Dict[str, Any]]:
    with open(os.path.join(report_dir, "index.json")) as f:
        return json.load(f)


def is_bad(result: Dict[str, Any]) -> bool:
    return result.get("behavior") in BAD or result.get("behaviorClose") not in CLOSE_OK


def table(results: Dict[str, Any]) -> List[str]:
    """Rows: one per case group, a total, and a column per behaviour (plus
    close behaviours that are not OK/INFORMATIONAL)."""
    groups: Dict[int, Counter] = defaultdict(Counter)
    for case_id, result in results.items():
        row = groups[case_key(case_id)[0]]
        row[result.get("behavior", "?")] += 1
        if result.get("behaviorClose") not in CLOSE_OK:
            row["BAD-CLOSE"] += 1
    columns = BEHAVIORS + ["BAD-CLOSE"]
    columns += sorted({k for row in groups.values() for k in row} - set(columns))
    lines = ["group " + " ".join(f"{c:>13}" for c in columns) + f" {'total':>6}"]
    total: Counter = Counter()
    for group in sorted(groups):
        row = groups[group]
        total.update(row)
        n = sum(row[c] for c in columns if c != "BAD-CLOSE")
        lines.append(f"{group:>5} " + " ".join(f"{row[c]:>13}" for c in columns) + f" {n:>6}")
    n = sum(total[c] for c in columns if c != "BAD-CLOSE")
    lines.append("total " + " ".join(f"{total[c]:>13}" for c in columns) + f" {n:>6}")
    return lines


def details(report_dir: str, case_id: str, result: Dict[str, Any]) -> List[str]:
    """The suite's own words on one case: description, expectation, result."""
    lines = [f"- {case_id}: behavior {result.get('behavior')}, close {result.get('behaviorClose')}"
             f" (close code {result.get('remoteCloseCode')})"]
    path = os.path.join(report_dir, result.get("reportfile", ""))
    try:
        with open(path) as f:
            case = json.load(f)
    except (OSError, ValueError) as exc:
        return lines + [f"  (no case report: {exc})"]
    for key in ("description", "expectation", "result", "resultClose"):
        text = " ".join(str(case.get(key, "")).split())
        if text:
            lines.append(f"  {key}: {text}")
    # The events the suite expected (per outcome) and those it saw, cut short.
    for key in ("expected", "received", "expectedClose"):
        if key in case:
            text = json.dumps(case[key], ensure_ascii=False)
            lines.append(f"  {key}: {text if len(text) <= 300 else text[:300] + ' ...'}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report_dir")
    ap.add_argument("--findings", help="also write the summary and the failing cases to this Markdown file")
    args = ap.parse_args()
    try:
        index = load(args.report_dir)
    except (OSError, ValueError) as exc:
        print(f"autobahn: no usable report in {args.report_dir}: {exc}", file=sys.stderr)
        return 2
    out: List[str] = []
    worst = 0
    for agent, results in sorted(index.items()):
        if not results:
            continue
        out.append(f"agent {agent}: {len(results)} cases")
        out += table(results)
        bad = sorted((c for c, r in results.items() if is_bad(r)), key=case_key)
        if bad:
            worst = 1
            out.append(f"\n{len(bad)} case(s) not passing (FAILED, NON-STRICT, UNIMPLEMENTED or a bad close):")
            for case_id in bad:
                out += details(args.report_dir, case_id, results[case_id])
        else:
            out.append("\nall cases passed (no FAILED, NON-STRICT or UNIMPLEMENTED; every close OK)")
    if not out:
        print("autobahn: the report lists no case", file=sys.stderr)
        return 2
    print("\n".join(out))
    if args.findings:
        with open(args.findings, "w") as f:
            f.write("# Autobahn|Testsuite findings (latest run)\n\n```\n" + "\n".join(out) + "\n```\n")
    return worst


if __name__ == "__main__":
    sys.exit(main())
