"""The generation stage: sampled ids -> tokens -> a Score over chords -> MIDI files, and
sampled characters -> text or ABC tunes.

Named ``generation`` (not ``generate``) so that importing it never hides :func:`jazzlstm.generate`."""
