"""Count the lab's reliability audit by class and write ``benchmarks/results/reliability.json``.

The audit *is* part of the test suite: a test marked ``@pytest.mark.bad_input("<class>")``
feeds the lab one bad input (each parametrised case counts once) and passes when the input
is refused with a clear message and nothing else changes; a test marked
``@pytest.mark.fault("<class>")`` injects one fault (a signal, a kill mid-write, a full disk,
a damaged file, a concurrent writer) and passes when nothing trained is lost. This script
runs exactly those tests and tallies them, so the table can never drift from what is tested:

    python benchmarks/reliability.py            # prints the table, writes the JSON
    python benchmarks/reliability.py --deselect NODEID   # extra pytest arguments, recorded
"""
from __future__ import annotations

import datetime
import json
import platform
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "reliability.json"


class Tally:
    """A pytest plugin that counts the marked tests' outcomes by kind and class."""

    def __init__(self):
        self.counts = defaultdict(lambda: {"tried": 0, "handled": 0, "failed": []})

    def pytest_runtest_logreport(self, report):
        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        for kind in ("bad_input", "fault"):
            cls = report.user_properties and dict(report.user_properties).get(kind)
            if not cls:
                continue
            row = self.counts[(kind, cls)]
            if report.skipped:
                continue
            row["tried"] += 1
            if report.passed:
                row["handled"] += 1
            else:
                row["failed"].append(report.nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        for kind in ("bad_input", "fault"):
            mark = item.get_closest_marker(kind)
            if mark is not None:
                item.user_properties.append((kind, mark.args[0]))


def main(argv=()) -> int:
    tally = Tally()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-m", "bad_input or fault",
                        "-o", "addopts=", str(ROOT / "tests"), *argv], plugins=[tally])
    rows = [{"kind": "input" if kind == "bad_input" else "fault", "class": cls,
             "tried": r["tried"], ("refused_cleanly" if kind == "bad_input" else "survived"): r["handled"],
             **({"not_handled": r["failed"]} if r["failed"] else {})}
            for (kind, cls), r in sorted(tally.counts.items())]
    result = {"what": "bad inputs tried / refused cleanly, and faults injected / survived with nothing "
                      "lost, by class; each is one test of the suite marked bad_input or fault",
              "date": datetime.date.today().isoformat(), "python": platform.python_version(),
              "torch": __import__("torch").__version__, "pytest_args": list(argv), "rows": rows,
              "totals": {"inputs_tried": sum(r["tried"] for r in rows if r["kind"] == "input"),
                         "inputs_refused_cleanly": sum(r.get("refused_cleanly", 0) for r in rows),
                         "faults_injected": sum(r["tried"] for r in rows if r["kind"] == "fault"),
                         "faults_survived": sum(r.get("survived", 0) for r in rows)}}
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'kind':6} {'class':28} {'tried':>6} {'handled':>8}")
    for r in rows:
        print(f"{r['kind']:6} {r['class']:28} {r['tried']:6d} {r.get('refused_cleanly', r.get('survived')):8d}")
    print(json.dumps(result["totals"]))
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
