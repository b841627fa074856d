"""utils.atomic: the one atomic write of the package."""

import json
import os
import stat
import subprocess
import sys

import pytest

from espnet2_tsdia.utils.atomic import (
    atomic_path,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    stale_temporaries,
)


def _umask() -> int:
    # read the umask in a child process: os.umask() sets it for the whole (threaded) test process
    out = subprocess.run(
        [sys.executable, "-c", "import os; m = os.umask(0); print(m)"], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_text_is_written_byte_for_byte_and_leaves_no_temporary(tmp_path):
    f = tmp_path / "sub" / "wav.scp"
    atomic_write_text(f, "a x\r\nb y\n")
    assert f.read_bytes() == b"a x\r\nb y\n"
    assert sorted(p.name for p in f.parent.iterdir()) == ["wav.scp"]


def test_mode_is_that_of_a_plain_open(tmp_path):
    f = tmp_path / "rttm"
    atomic_write_text(f, "x\n")
    plain = tmp_path / "plain"
    plain.write_text("x\n")
    assert stat.S_IMODE(f.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~_umask()


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    f = tmp_path / "segments"
    atomic_write_text(f, "old\n")

    def half(fh):
        fh.write(b"new, but not fin")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        atomic_write(f, half)
    assert f.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segments"]


def test_atomic_path_for_a_subprocess(tmp_path):
    f = tmp_path / "out.txt"
    with atomic_path(f) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.txt.") and tmp.name.endswith(".tmp")
        assert not f.exists()
        subprocess.run([sys.executable, "-c", f"open({str(tmp)!r}, 'w').write('done')"], check=True)
    assert f.read_text() == "done"
    with pytest.raises(ValueError):
        with atomic_path(f) as tmp:
            tmp.write_text("half")
            raise ValueError("ffmpeg failed")
    assert f.read_text() == "done" and stale_temporaries(f) == []


def test_stale_temporaries_of_a_killed_writer_are_found(tmp_path):
    """A SIGKILL between the write and the rename leaves the hidden temporary, nothing else."""
    f = tmp_path / "a.wav"
    code = (
        "import os, sys\n"
        "from espnet2_tsdia.utils.atomic import atomic_write\n"
        "def w(fh):\n"
        "    fh.write(b'half'); fh.flush(); os.kill(os.getpid(), 9)\n"
        f"atomic_write({str(f)!r}, w)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ}, check=False)
    assert proc.returncode == -9
    assert not f.exists()
    stale = stale_temporaries(f)
    assert len(stale) == 1 and stale[0].read_bytes() == b"half"
    (tmp_path / "a.wav.x").write_text("another file")
    (tmp_path / ".a.wav.x.0123abcd.tmp").write_text("the temporary of another file")
    assert stale_temporaries(f) == stale


def test_json(tmp_path):
    atomic_write_json({"b": 1, "a": [1, 2]}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [1, 2], "b": 1}
    assert (tmp_path / "m.json").read_text().endswith("}\n")
