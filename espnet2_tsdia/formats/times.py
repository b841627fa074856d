"""The time tolerances every reader, checker and merger of the package shares.

Times in our files are decimal text with a millisecond (RTTM, segments, UEM) or finer (reco2dur)
resolution, read into binary floats. Two kinds of inexactness follow, each with one constant:

- :data:`FLOAT_EPS` (1 microsecond): float noise. ``1.1 + 2.2`` is ``3.3000000000000003``,
  not ``3.3``. Differences this small are no change at all: a turn whose computed end passes the
  recording end by this much is not "clipped", it already ended there.
- :data:`TIME_EPS` (2 milliseconds): the rounding of 3-decimal files. An RTTM end is onset plus
  duration, two rounded numbers, so it can be off by up to 1 ms each; two times within
  ``TIME_EPS`` are the same time. Two turns of one speaker that overlap by no more than this
  only touch: they are neither an overlap to report nor turns to merge (AliMeeting's references
  have many such pairs; compared exactly, 127 turns of its dev set were merged as overlaps).
"""

from __future__ import annotations

import math

#: Float noise in times read from text (seconds).
FLOAT_EPS = 1e-6
#: Two times from millisecond files within this many seconds are the same time.
TIME_EPS = 0.002


def overlaps(end: float, onset: float, *, tolerance: float = TIME_EPS) -> bool:
    """True if something starting at ``onset`` begins more than ``tolerance`` before ``end``
    (so a turn that only touches the previous one, up to rounding, does not overlap it)."""
    return onset < end - tolerance


def floor_ms(x: float) -> float:
    """``x`` rounded down to 1 ms, so a 3-decimal file never passes it; the product's float noise
    is ignored (``floor_ms(1.005) == 1.005`` although ``1.005 * 1000`` is ``1004.9999999999999``)."""
    return math.floor(x * 1000 + 1e-6) / 1000
