"""Atomic writes (``lab.atomic``): a write that fails midway leaves the previous file whole and
no temporary file behind; a write that succeeds replaces it."""
import pytest

from lab.atomic import write_atomic


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "summary.json"
    write_atomic(target, lambda f: f.write(b"old"))

    def half_then_crash(f):
        f.write(b"new but cut")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, half_then_crash)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    write_atomic(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"


CHILD = """
import sys, time
from pathlib import Path

import torch

from lab import atomic
from lab.training.checkpoint import save_checkpoint

path, marker = Path(sys.argv[1]), Path(sys.argv[2])
model = torch.nn.Linear(512, 512)
save_checkpoint(path, model, {"step": 1})
real = atomic.write_atomic

def stalled(target, write):
    class Half:  # the new checkpoint's first half reaches the disk, then the process hangs
        def __init__(self, f):
            self.f = f
        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            marker.write_text("midway")
            time.sleep(600)
    return real(target, lambda f: write(Half(f)))

atomic.write_atomic = stalled
import lab.training.checkpoint as ckpt
ckpt.write_atomic = stalled
with torch.no_grad():
    model.weight.add_(1.0)
save_checkpoint(path, model, {"step": 2})
"""


@pytest.mark.fault("checkpoint")
def test_a_process_killed_in_the_middle_of_a_checkpoint_write_leaves_the_previous_one(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from lab.atomic import remove_orphans
    from lab.training.checkpoint import read_checkpoint

    path, marker = tmp_path / "checkpoint.safetensors", tmp_path / "midway"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(marker)],
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        for _ in range(6000):  # bounded wait for the write to be half done
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the child never reached the middle of its write"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(60)
    ckpt = read_checkpoint(path)                  # whole, and its checksum holds
    assert ckpt.metadata["step"] == 1
    orphans = remove_orphans(tmp_path, path.name)  # the cut-off write's temporary file
    assert orphans and not any(p.exists() for p in orphans)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors", "midway"]
