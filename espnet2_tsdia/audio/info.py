"""Sample rate, channel count and length of a ``wav.scp`` entry: an audio file or a ``cmd |`` pipe.

Files are read through libsndfile's header parser (``soundfile.info``); nothing is decoded.
Pipes are only run when asked (:func:`audio_info` with ``run_pipes=True``): their stdout is read
as a WAV stream, the header gives rate and channels, and the data bytes are counted (a pipe
cannot seek back to patch the header, so writers such as sox often leave the length field wrong).
"""

from __future__ import annotations

import io
import re
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional

#: How long a pipe command may run before it is killed (seconds).
PIPE_TIMEOUT = 600.0

_ARK_OFFSET = re.compile(r"^(.+):(\d+)$")


@dataclass(frozen=True)
class AudioInfo:
    """What the header says about one recording."""

    samplerate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.samplerate


def is_pipe(spec: str) -> bool:
    """True for a Kaldi pipe entry (``sox in.flac -t wav - |``)."""
    return spec.rstrip().endswith("|")


def ark_offset(spec: str) -> Optional[str]:
    """The archive path of a Kaldi ``file.ark:1234`` entry whose archive exists, else None."""
    m = _ARK_OFFSET.match(spec.strip())
    if m and Path(m.group(1)).is_file():
        return m.group(1)
    return None


def audio_info(spec: str, *, run_pipes: bool = False, timeout: float = PIPE_TIMEOUT) -> AudioInfo:
    """Header facts of one ``wav.scp`` value.

    Args:
        spec: the value of a wav.scp line: a path, or a shell command ending in ``|``.
        run_pipes: run a pipe command and read the WAV stream on its stdout; if False, a pipe
            raises ValueError.
        timeout: seconds a pipe may run.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the header cannot be read, the pipe fails, or a pipe was given without
            ``run_pipes``. The message names the entry and the cause.
    """
    if is_pipe(spec):
        if not run_pipes:
            raise ValueError(f"{spec!r} is a pipe; pass run_pipes=True to run it")
        return _pipe_info(spec.rstrip()[:-1].strip(), timeout=timeout)
    path = Path(spec.strip())
    if not path.is_file():
        raise FileNotFoundError(f"audio file {str(path)!r} does not exist")
    import soundfile  # deferred: importing soundfile loads libsndfile

    try:
        info = soundfile.info(str(path))
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError / TypeError
        raise ValueError(f"cannot read the audio header of {str(path)!r}: {e}") from None
    return AudioInfo(samplerate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))


# --------------------------------------------------------------------------- pipes
def _pipe_info(cmd: str, *, timeout: float) -> AudioInfo:
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=err)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            assert proc.stdout is not None
            try:
                info = read_wav_stream(proc.stdout)
            except ValueError as e:
                proc.kill()
                proc.wait()
                raise ValueError(f"pipe {cmd!r}: {e}") from None
            finally:
                proc.stdout.close()
            rc = proc.wait()
        finally:
            killer.cancel()
        if rc != 0:
            err.seek(0)
            tail = err.read()[-300:].decode("utf-8", "replace").strip()
            raise ValueError(f"pipe {cmd!r} exited with status {rc}: {tail}")
    return info


def read_wav_stream(stream: BinaryIO, *, block: int = 1 << 20) -> AudioInfo:
    """Read a RIFF/WAVE stream to its end: rate and channels from ``fmt ``, frames counted.

    The data chunk's declared size is trusted only when it is not larger than what the stream
    holds (pipes write a placeholder there).
    """
    head = _read_exact(stream, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        rest = head + stream.read()
        return _buffer_info(rest)
    rate = channels = block_align = None
    while True:
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            raise ValueError("WAV stream ended before its data chunk")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            body = _read_exact(stream, size + (size & 1))
            if len(body) < 16:
                raise ValueError(f"WAV fmt chunk of {len(body)} bytes, expected at least 16")
            _, channels, rate, _, block_align = struct.unpack("<HHIIH", body[:14])
            continue
        if cid == b"data":
            if rate is None or not block_align:
                raise ValueError("WAV data chunk before a valid fmt chunk")
            counted = 0
            while True:
                buf = stream.read(block)
                if not buf:
                    break
                counted += len(buf)
            declared_ok = 0 < size < 0xFFFFFFFF and size <= counted
            nbytes = size if declared_ok else counted
            return AudioInfo(samplerate=int(rate), channels=int(channels), frames=nbytes // int(block_align))
        skipped = _read_exact(stream, size + (size & 1))
        if len(skipped) < size:
            raise ValueError(f"WAV stream ended inside chunk {cid!r}")


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        buf = stream.read(n - got)
        if not buf:
            break
        parts.append(buf)
        got += len(buf)
    return b"".join(parts)


def _buffer_info(data: bytes) -> AudioInfo:
    """Non-WAV stream output (e.g. FLAC): let libsndfile parse the whole buffer."""
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception as e:
        raise ValueError(f"output is neither WAV nor a format libsndfile reads ({len(data)} bytes): {e}") from None
    return AudioInfo(samplerate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames))
