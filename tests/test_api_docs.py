"""The public API: what ``lab`` exports resolves, and its reference builds from the docstrings."""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

import lab

ROOT = Path(__file__).resolve().parents[1]


def _build_api():
    """``docs/build_api.py`` as a module (docs/ is no package)."""
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_exported_name_resolves_and_the_names_users_type_are_exported():
    for name in lab.__all__:
        assert getattr(lab, name) is not None, name
    typed = {"get_problem", "get_model_config", "TrainConfig", "Trainer", "define_problem",
             "Dirichlet", "Neumann", "Robin", "Periodic", "ModelConfig", "register_model",
             "list_problems", "list_runs", "relative_l2", "Snapshot", "Step", "Problem", "Domain"}
    assert typed <= set(lab.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Burgers'"):
        lab.Burgers  # noqa: B018 — the catalogue's classes are reached through get_problem


def test_the_api_reference_builds_without_a_warning_and_shows_the_public_names(tmp_path):
    build_api = _build_api()
    build_api.build(tmp_path)
    top = (tmp_path / "lab.html").read_text(encoding="utf-8")
    for name in ("Trainer", "get_problem", "define_problem", "TrainConfig", "Domain", "solve"):
        assert f'id="{name}"' in top, name
    stepping = (tmp_path / "lab" / "solvers" / "time_stepping.html").read_text(encoding="utf-8")
    assert "SemilinearEquation" in stepping and "lawson_rk4" in stepping
    assert (tmp_path / "lab" / "problems" / "domain.html").exists()
    assert 'id="_load_all"' not in (tmp_path / "lab" / "problems.html").read_text(encoding="utf-8")
    assert (tmp_path / "index.html").exists() and (tmp_path / "search.js").exists()


def test_a_module_that_fails_to_import_or_a_pdoc_warning_fails_the_build(tmp_path, monkeypatch):
    build_api = _build_api()
    monkeypatch.setattr(build_api, "PUBLIC", ("lab", "lab.no_such_module"))
    with pytest.raises(RuntimeError, match="Error importing lab.no_such_module"):
        build_api.build(tmp_path)
    monkeypatch.setattr(build_api, "PUBLIC", ("lab.device",))
    monkeypatch.setattr(build_api.pdoc.render, "html_module",
                        lambda *a: warnings.warn("a reference pdoc cannot resolve") or "")
    with pytest.raises(UserWarning, match="cannot resolve"):
        build_api.build(tmp_path)
