"""Audio, in one place: headers, reading wav.scp entries, user input for inference, sox helpers.

Modules: ``info`` (rate, channels and length from a header or a ``cmd |`` pipe, nothing decoded),
``reader`` (wav.scp entries as float32 mono at the feature rate, whole or by region),
``user_input`` (a user's recording or enrollment clip for inference: rate and channel policy),
``tools`` (sox/flite runners, 16-bit wav files, DC removal, speech boundaries).
The audio itself is never modified: everything here reads, or writes new files.
"""
