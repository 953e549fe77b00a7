"""The README's table of PINN errors beside the published ones is the one the results files
give: every row's figure is read from the file that holds it, and the README copy is equal."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("published", ROOT / "benchmarks" / "pinn" / "published.py")
published = importlib.util.module_from_spec(spec)
spec.loader.exec_module(published)


def test_every_row_reads_its_figure_from_a_results_file_and_says_whether_it_matches():
    rows = published.table()
    assert len(rows) == len(published.ROWS)
    for row in rows:
        ours = row["ours"]
        if ours is None:  # a row not run says so
            assert not row["matches"] and "not run" in row["why"]
            continue
        assert (ROOT / "benchmarks" / "results" / ours["file"]).is_file()
        assert 0 < ours["rel_l2"] < 10 and ours["device"]
        assert row["matches"] == (ours["rel_l2"] <= row["published"])


def test_a_selector_that_matches_no_row_is_refused():
    with pytest.raises(LookupError, match="no row"):
        published.measured("pinn_table_h200_2026-11-26c.json", {"problem": "no-such-problem"})


def test_the_readme_and_the_results_json_hold_the_table_the_results_give():
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index(published.BEGIN) + len(published.BEGIN), readme.index(published.END)
    rows = published.table()
    assert readme[start:end].strip() == published.markdown(rows)
    stored = json.loads(published.OUT.read_text())["rows"]
    assert stored == json.loads(json.dumps(rows))
