"""How live the served app stays with several sessions training at once.

Serves the lab (``sciml-lab serve`` in a subprocess, its own home and runs folder), opens
``--sessions`` pages in Debian's Chromium (separate browser contexts, so separate sessions), has
each train the default Burgers PINN for many steps, then measures:

* the longest gap between two updates of each page's loss plot (read in the page every 50 ms
  from the BokehJS data source that feeds it), over ``--window`` seconds with all training;
* how long a fresh page takes until its Train button is enabled, while they train;
* Stop latency per page: from the click to the Train button enabled again (a run asked for
  then starts once the stopped one has saved), and to the page showing the run's end (it has
  checkpointed and ended);
* the CPU seconds the server, its training workers and the browser used in the window (of
  ``window`` times the cores there are), which says who holds the cores.

A figure not reached within its guard (``STOP_GUARD_MS``, ``FRESH_GUARD_MS``) is ``null``.

Writes one entry (mode, sessions, cores, load averages, versions, date, figures) per run to
``benchmarks/results/app_sessions_cpu.json``, keeping earlier entries, and prints it.

    python benchmarks/app_sessions.py --label "threads (before)" --tree /tmp/baseline
    python benchmarks/app_sessions.py --label processes -- --max-trainings 4
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import (LOSS_POINTS, STOPPING, free_port, launch, running,  # noqa: E402
                             settings_input, type_setting)

RESULTS = ROOT / "benchmarks" / "results" / "app_sessions_cpu.json"
#: figures beyond these guards are recorded as null (not reached)
STOP_GUARD_MS = 120_000
FRESH_GUARD_MS = 300_000
#: records, in the page, when the loss plot's data source grows (page clock, milliseconds)
WATCH = """() => {
  const count = %s;
  window.__updates = [];
  let last = count();
  setInterval(() => { const n = count(); if (n !== last) { last = n; window.__updates.push(performance.now()); } }, 50);
}""" % LOSS_POINTS


def versions(tree: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", "import torch, panel, bokeh, sys; "
                          "print(torch.__version__, panel.__version__, bokeh.__version__, sys.version.split()[0])"],
                         capture_output=True, text=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    torch_v, panel_v, bokeh_v, py = out.stdout.split()
    chromium = subprocess.run([shutil.which("chromium") or "chromium", "--version"], capture_output=True,
                              text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=tree).stdout.strip()
    return {"python": py, "torch": torch_v, "panel": panel_v, "bokeh": bokeh_v, "chromium": chromium,
            "commit": commit}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_by_role(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server, its training workers (its child processes) and
    the browser's processes, from /proc: where two cores go while every session trains."""
    tick = os.sysconf("SC_CLK_TCK")
    use = {"server": 0.0, "trainings": 0.0, "browser": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        pid, ppid = int(stat.parent.name), int(fields[1])
        role = ("server" if pid == server_pid else "trainings" if ppid == server_pid
                else "browser" if name.startswith("chrom") else None)
        if role:
            use[role] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return use


def open_page(browser, url: str, guard_ms: int = 600_000):
    """A new session's page; returns (page, seconds until Train is enabled)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(600_000)
    t0 = time.monotonic()
    page.goto(url)
    try:
        expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=guard_ms)
    except AssertionError:
        context.close()
        raise
    return page, time.monotonic() - t0


def start_training(page, steps: int) -> None:
    page.get_by_role("button", name="Training", exact=True).click()
    settings_input(page, "Steps").wait_for()
    type_setting(page, "Steps", steps)
    page.get_by_role("button", name="Train", exact=True).click()


def measure(url: str, sessions: int, window: float, steps: int, server_pid: int) -> dict:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        pages, ready = [], []
        for i in range(sessions):
            page, t = open_page(browser, url)
            pages.append(page)
            ready.append(t)
            start_training(page, steps)
            progress(f"session {i + 1} ready after {t:.1f} s and training")
        for i, page in enumerate(pages):  # every session trains: its loss plot has points
            page.wait_for_function(f"() => ({LOSS_POINTS})() > 0", timeout=600_000)
            page.evaluate(WATCH)
            progress(f"session {i + 1} shows losses")
        load_start, cpu_start = load(), cpu_by_role(server_pid)
        time.sleep(window)
        cpu = {k: round(v - cpu_start[k], 1) for k, v in cpu_by_role(server_pid).items()}
        gaps, counts = [], []
        for page in pages:
            t = page.evaluate("window.__updates")
            counts.append(len(t))
            edges = t  # gaps between updates inside the window (the first update starts it)
            gaps.append(round(max((b - a for a, b in zip(edges, edges[1:])), default=window * 1000) / 1000, 2))
        load_window = load()
        progress("window measured")
        try:
            fresh, fresh_ready = open_page(browser, url, FRESH_GUARD_MS)
        except AssertionError:  # not usable within the guard
            fresh, fresh_ready = None, None
        progress(f"fresh page ready after {fresh_ready} s")
        stops, saved = [], []  # None: not shown within STOP_GUARD_MS
        for page in pages:
            t0 = time.monotonic()
            page.get_by_role("button", name="Stop", exact=True).click()
            try:
                expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=STOP_GUARD_MS)
                stops.append(round(time.monotonic() - t0, 2))
                expect(page.get_by_text(STOPPING)).to_have_count(0, timeout=STOP_GUARD_MS)
                saved.append(round(time.monotonic() - t0, 2))
            except AssertionError:  # expect's way of saying the guard ran out
                stops += [None] * (len(saved) + 1 - len(stops))
                saved.append(None)
                continue
            progress(f"stopped after {stops[-1]} s, saved after {saved[-1]} s")
        if fresh is not None:
            fresh.context.close()
        for page in pages:
            page.context.close()
        browser.close()
    return {"page_ready_s_before_training": [round(t, 2) for t in ready],
            "updates_in_window": counts, "max_update_interval_s": gaps,
            "fresh_page_ready_s": fresh_ready and round(fresh_ready, 2), "stop_latency_s": stops,
            "stop_saved_s": saved,
            "loadavg_at_window_start": load_start, "loadavg_at_window_end": load_window,
            "cpu_s_in_window": cpu}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="what this run measures, e.g. 'processes'")
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree the server runs (default: this one)")
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--window", type=float, default=45.0, help="seconds of all sessions training")
    ap.add_argument("--steps", type=int, default=200_000, help="Adam steps each session asks for")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("serve_args", nargs="*", help="extra arguments for sciml-lab serve (after --)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="app-sessions-"))
    port = free_port()
    cmd = [sys.executable, "-m", "widgets.cli", "serve", "--no-show", "--port", str(port),
           "--address", "localhost", "--runs-dir", str(tmp / "runs"), *args.serve_args]
    env = {"PYTHONPATH": str(args.tree), "SCIML_LAB_HOME": str(tmp / "home"),
           "SCIML_LAB_CACHE": str(tmp / "cache")}
    entry = {"label": args.label, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "sessions": args.sessions, "cores": os.cpu_count(), "cpu": cpu_name(),
             "serve_args": args.serve_args, "window_s": args.window, "loadavg_before": load(),
             "versions": versions(args.tree)}
    with running(cmd, port, tmp / "server.log", env, cwd=args.tree) as server:
        entry.update(measure(f"http://localhost:{port}/", args.sessions, args.window, args.steps, server.pid))
    entry["loadavg_after"] = load()
    print(json.dumps(entry))
    if not args.no_save:
        runs = json.loads(RESULTS.read_text())["runs"] if RESULTS.exists() else []
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"what": "liveness of sciml-lab serve with several sessions training "
                                               "(benchmarks/app_sessions.py)", "runs": runs + [entry]},
                                      indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
