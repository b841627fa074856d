"""File formats, the bottom layer: Kaldi tables, RTTM, UEM and the error every reader raises.

Modules: ``errors`` (:class:`DataFormatError`: file, line, what was expected), ``text`` (a file
as numbered lines; the entries + problems every parser returns), ``times`` (the time
tolerances), ``kaldi`` (scp tables, lists, segments, utt2spk/spk2utt, reco2dur), ``rttm``
(speaker turns), ``uem`` (scored regions). One tolerant parser per format serves the readers
(which raise), the data-dir validator (which reports) and the fixer (which repairs). Nothing here
imports another package of espnet2_tsdia except ``utils`` (atomic writes).
"""
