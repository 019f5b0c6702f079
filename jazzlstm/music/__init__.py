"""The music stage: the Score and its value types, harmony, analysis (melody choice, chord
recognition and inference), reading and writing MIDI, MusicXML and ABC, and audio rendering.

Never imports Keras or TensorFlow (a test checks it)."""
