"""Several people training at once on one served lab, in a real browser.

Two sessions (separate browser contexts) train at the same time on a server that allows two:
every page keeps receiving loss points while both train, a third page still loads and, over
the limit, is queued with its place shown until Stop takes it out, and Stop ends each run with
its state saved. How fast all this is on a given machine is ``benchmarks/app_sessions.py``'s
business (it measures four sessions): nothing here asserts on time (every wait is a hang guard).
Two keep this test light enough for a busy two-core CI box; the mechanics are the same for any
number.
"""
from __future__ import annotations

import json
import re

import pytest
from browser_support import (LOSS_POINTS, WAIT_MS, launch, needs_chromium, press, record_page_errors,
                             run_going, served_lab, settings_input, training_ended, type_setting)

pytestmark = [pytest.mark.browser, needs_chromium]

SESSIONS = 2
START_GUARD_MS = 3 * WAIT_MS


def _open(browser, url: str):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors = record_page_errors(page)
    page.goto(url)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=WAIT_MS)
    return page, errors


def _train(page, steps: int) -> None:
    page.get_by_role("button", name="Training", exact=True).click()
    settings_input(page, "Steps").wait_for()
    for label, value in (("Steps", steps), ("N pde", 200), ("Snapshot every", 20)):
        type_setting(page, label, value)
    press(page, "Train", run_going(page))  # a queued run counts: its Stop is enabled


def _points(page) -> int:
    return page.evaluate(LOSS_POINTS)


@pytest.mark.fault("concurrency")
def test_sessions_training_at_once_all_stay_live_one_more_is_queued_and_stop_stops_each(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with served_lab(tmp_path, "--max-trainings", str(SESSIONS)) as (url, runs), sync_playwright() as pw:
        browser = launch(pw)
        opened = [_open(browser, url) for _ in range(SESSIONS)]
        pages = [page for page, _ in opened]
        for page in pages:
            _train(page, 10**6)
        for page in pages:  # each session's plot receives points (the hang guard allows the
            # worker processes to start on a busy two-core box) ...
            page.wait_for_function(f"() => ({LOSS_POINTS})() > 0", timeout=START_GUARD_MS)
        seen = [_points(page) for page in pages]
        for page, n in zip(pages, seen):  # ... and keeps receiving them while all of them train
            page.wait_for_function(f"() => ({LOSS_POINTS})() > {n}")
        assert len(list(runs.iterdir())) == SESSIONS

        extra, extra_errors = _open(browser, url)  # a new page loads while they train
        _train(extra, 50)
        status = extra.get_by_text(re.compile(r"Queued.*0 ahead"))
        expect(status).to_be_visible()
        expect(extra.get_by_role("button", name="Pause", exact=True)).to_be_disabled()
        press(extra, "Stop", training_ended(extra))
        expect(extra.get_by_text("Removed from the queue; nothing was trained.")).to_be_visible()
        expect(extra.get_by_role("button", name="Train", exact=True)).to_be_enabled()

        for page in pages:
            press(page, "Stop", training_ended(page))
        for page in pages:  # each run ended, saved, and its page says so
            expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
            expect(page.get_by_text(re.compile(r"Run stopped at step \d+"))).to_be_visible()
        summaries = [json.loads((run / "summary.json").read_text()) for run in runs.iterdir()]
        assert len(summaries) == SESSIONS and {s["status"] for s in summaries} == {"stopped"}
        for page, errors in [*opened, (extra, extra_errors)]:
            assert not errors, errors  # every page stayed in step with the server
        browser.close()
