"""Reference cache: a hit returns the stored array; corrupt or partial entries are recomputed."""
import numpy as np

from lab.problems import cache


def _grid():
    return {"x": np.linspace(0, 1, 5)}


def test_hit_skips_the_solver(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    calls = []
    compute = lambda: calls.append(1) or np.arange(5.0)  # noqa: E731
    a = cache.cached("demo", {"a": 1}, _grid(), compute)
    b = cache.cached("demo", {"a": 1}, _grid(), compute)
    assert np.array_equal(a, b) and len(calls) == 1
    cache.cached("demo", {"a": 2}, _grid(), compute)  # other parameters: another key
    assert len(calls) == 2


def test_corrupt_or_truncated_entries_are_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    calls = []
    compute = lambda: calls.append(1) or np.arange(5.0)  # noqa: E731
    cache.cached("demo", {}, _grid(), compute)
    key = cache.key_for("demo", {}, _grid())
    data = cache.cache_dir() / f"{key}.npz"
    data.write_bytes(data.read_bytes()[:40])           # truncated archive
    assert np.array_equal(cache.cached("demo", {}, _grid(), compute), np.arange(5.0))
    np.savez(data, reference=np.zeros(5))              # valid file, wrong content
    assert np.array_equal(cache.cached("demo", {}, _grid(), compute), np.arange(5.0))
    (cache.cache_dir() / f"{key}.json").unlink()       # missing checksum
    cache.cached("demo", {}, _grid(), compute)
    assert len(calls) == 4


def test_concurrent_callers_compute_a_reference_once(tmp_path, monkeypatch):
    """The app's preview and a diagnostics view may ask for one reference at the same time."""
    import threading
    import time

    from lab.problems.cache import cached

    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    calls, results = [], []

    def compute():
        calls.append(1)
        time.sleep(0.2)  # long enough for the second caller to arrive while this one computes
        return np.arange(4.0)

    grid = {"x": np.linspace(0, 1, 4)}
    threads = [threading.Thread(target=lambda: results.append(cached("p", {}, grid, compute)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 2
    for r in results:
        np.testing.assert_array_equal(r, np.arange(4.0))


def test_a_changed_solver_version_misses_the_cache(tmp_path, monkeypatch):
    """A solver that now returns other numbers bumps its VERSION: the old references go unused."""
    from lab.problems import get_problem
    from lab.solvers import exact

    monkeypatch.setenv("SCIML_LAB_CACHE", str(tmp_path))
    problem = get_problem("heat")
    calls = []
    solve = type(problem)._reference
    monkeypatch.setattr(type(problem), "_reference", lambda self, grid: calls.append(1) or solve(self, grid))
    grid = problem.grid((9, 5))
    first = problem.reference(grid)
    problem.reference(grid)
    assert len(calls) == 1
    monkeypatch.setattr(exact, "VERSION", exact.VERSION + ".1")
    np.testing.assert_array_equal(problem.reference(grid), first)
    assert len(calls) == 2


def test_solver_versions_follow_the_solvers_a_solver_uses():
    """KdV's reference comes from ETDRK4 (its steps from the time-stepping module), which takes
    its wavenumbers from the spectral module."""
    import pkgutil

    import lab.solvers
    from lab.problems import get_problem

    for info in pkgutil.iter_modules(lab.solvers.__path__):
        module = __import__(f"lab.solvers.{info.name}", fromlist=["VERSION"])
        assert isinstance(module.VERSION, str), info.name
    assert set(get_problem("kdv").solver_versions()) == {"lab.solvers.etdrk4", "lab.solvers.spectral",
                                                         "lab.solvers.time_stepping"}
    assert cache.key_for("p", {}, _grid(), {"lab.solvers.spectral": "1"}) != \
        cache.key_for("p", {}, _grid(), {"lab.solvers.spectral": "2"})
