"""File formats, the bottom layer: Kaldi tables, RTTM, UEM and the error every reader raises.

Modules: ``errors`` (:class:`DataFormatError`: file, line, what was expected), ``kaldi`` (scp
tables, segments, utt2spk/spk2utt, reco2dur), ``rttm`` (speaker turns), ``uem`` (scored regions).
Nothing here imports another package of espnet2_tsdia.
"""
