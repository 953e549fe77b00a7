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
