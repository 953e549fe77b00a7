"""A wheel built from the repository installs into a fresh environment and runs there.

Built with ``python -m build`` (no isolation: the build backend comes from this environment,
nothing is downloaded) from a copy of what the wheel is made of, installed into a new venv
that sees this environment's site-packages (numpy, torch, panel ...), the editable install
of the repository among them:
``lab`` must then come from the venv, not from the editable install of the repository.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from browser_support import free_port, running

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, cwd, env=None, **kw):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(wheel, venv python, environment)`` for commands run from the installed wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("lab", "widgets"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"),
          str(src)], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("sciml_lab-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    # this environment may itself be a venv, which --system-site-packages does not reach: its
    # site-packages join the new one's, after it (and with their .pth files, the editable
    # install of the repository included: the wheel's copy must still win)
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).strip())
    outer = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    (site / "outer_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in sorted(outer)))
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
          "--ignore-installed", "--no-compile", "--disable-pip-version-check", str(wheel)], cwd=tmp)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "SCIML_LAB_HOME": str(tmp / "home"), "SCIML_LAB_FAST": "1", "OMP_NUM_THREADS": "1"}
    return wheel, python, env


def test_the_wheel_holds_every_module_and_the_data_the_app_reads(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "lab", "widgets"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    missing = [f for f in tracked if f not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert "widgets/icons/sciml-lab.svg" in names
    assert not any(n.startswith(("tests/", "notebooks/", "benchmarks/")) for n in names)


def test_the_installed_command_lists_the_problems_from_the_venv_not_the_repository(installed, tmp_path):
    _, python, env = installed
    site = _run([str(python), "-c", "import lab, widgets, sysconfig; "
                 "print(lab.__file__); print(widgets.__file__); print(sysconfig.get_paths()['purelib'])"],
                cwd=tmp_path, env=env).split()
    assert all(Path(f).is_relative_to(site[2]) for f in site[:2]), site
    assert str(ROOT) not in site[0]
    out = _run([str(python.parent / "sciml-lab"), "problems"], cwd=tmp_path, env=env)
    assert "burgers" in out and "darcy_operator" in out


def test_the_installed_app_serves_its_page(installed, tmp_path):
    _, python, env = installed
    port = free_port()
    cmd = [str(python.parent / "sciml-lab"), "serve", "--no-show", "--address", "127.0.0.1",
           "--port", str(port)]
    status = None
    with running(cmd, port, tmp_path / "serve.log", env, cwd=tmp_path):
        for _ in range(60):  # the first page builds a whole session
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as r:
                    status = r.status
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
    assert status == 200
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
