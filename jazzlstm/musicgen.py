"""``jazzlstm generate`` for music runs: sample ids, decode over chords, write MIDI files.

Sampling happens in one batch with a few spare candidates; candidates whose bars all have
notes are preferred, and any bar left empty gets a chord tone on its downbeat
(:func:`jazzlstm.generation.shape_melody`). The same seed gives the same files.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import generation
from .corpus import EncodingSettings, encode_score, read_score
from .errors import InputFileError, JazzLSTMError
from .fileio import check_writable, numbered_paths
from .midi_io import write_midi
from .runs import Run
from .score import Chord, Score

TOKENS_PER_BAR = 16
"""Tokens sampled per requested bar: generous, so that even sixteenth-note lines fill the bars."""
SPARE_CANDIDATES = 3
"""Extra sequences sampled per requested output, to prefer ones without empty bars."""


@dataclass(frozen=True)
class MusicOptions:
    """What to generate (the CLI flags of ``jazzlstm generate``)."""

    bars: int = 8
    chords: str | None = None
    chords_from: str | None = None
    temperature: float = 1.0
    top_k: int | None = None
    greedy: bool = False
    seed: int = 0
    tempo: float = 120.0
    primer: str | None = None
    num_outputs: int = 1

    def __post_init__(self) -> None:
        if self.bars <= 0:
            raise JazzLSTMError(f"--bars must be positive, got {self.bars}")
        if self.temperature <= 0:
            raise JazzLSTMError(f"--temperature must be positive, got {self.temperature}")
        if self.top_k is not None and self.top_k <= 0:
            raise JazzLSTMError(f"--top-k must be positive, got {self.top_k}")
        if self.tempo <= 0:
            raise JazzLSTMError(f"--tempo must be positive, got {self.tempo}")
        if self.num_outputs <= 0:
            raise JazzLSTMError(f"--num-outputs must be positive, got {self.num_outputs}")


def choose_chords(run: Run, options: MusicOptions, rng: random.Random) -> list[Chord]:
    """--chords, else --chords-from FILE, else a stretch of a progression seen in training."""
    beats = options.bars * 4.0
    if options.chords:
        return generation.fit_progression(generation.progression_from_names(options.chords), beats)
    if options.chords_from:
        chords = read_score(options.chords_from).chords
        if not chords:
            raise InputFileError(options.chords_from, "no chords found")
        return generation.fit_progression(chords, beats)
    if run.progressions:
        return generation.pick_progression(run.progressions, options.bars, rng)
    return generation.fit_progression(generation.progression_from_names("Cmaj7 Am7 Dm7 G7"), beats)


def primer_ids(run: Run, path: str) -> list[int]:
    """The primer file's tokens in the run's encoding, as ids (tokens the model never saw are
    dropped; a primer with none left is an error)."""
    score = read_score(path, run.data_config.melody_track)
    settings = EncodingSettings(run.data_config.encoding if run.data_config.encoding != "chars" else "notes")
    tokens = encode_score(score, settings)[0]
    ids = run.vocab.encode(tokens, on_unknown="skip")
    if not ids:
        raise InputFileError(path, "primer: none of its tokens occur in the model's vocabulary")
    return ids


def generate_music(run: Run, out: str | Path, options: MusicOptions, force: bool = False) -> list[Path]:
    """Generate ``options.num_outputs`` MIDI files at ``out`` (numbered when several)."""
    from .sampling import generate as sample_ids

    targets = numbered_paths(out, options.num_outputs, default_suffix=".mid")
    for target in targets:  # check them all before writing any
        check_writable(target, force)
    rng = random.Random(options.seed)
    chords = choose_chords(run, options, rng)
    primer = primer_ids(run, options.primer) if options.primer else None
    n = options.num_outputs * (1 + SPARE_CANDIDATES)
    # A k beyond the vocabulary restricts nothing: sample from every token.
    top_k = None if options.top_k is None else min(options.top_k, len(run.vocab))
    ids = sample_ids(run.model, n, options.bars * TOKENS_PER_BAR, primer=primer, temperature=options.temperature,
                     top_k=top_k, greedy=options.greedy, seed=options.seed)
    scores = _pick_scores(run, ids, chords, options)
    for score, target in zip(scores, targets):
        write_midi(score, target, tempo=options.tempo, force=force)
    return targets


def _pick_scores(run: Run, ids, chords: Sequence[Chord], options: MusicOptions) -> list[Score]:
    """Decode every candidate; those that needed no fallback note come first, in order."""
    complete, patched = [], []
    for i, row in enumerate(ids):
        score = generation.build_score(run.vocab.decode(row), run.data_config.encoding, chords, options.bars,
                                       options.tempo, random.Random(options.seed * 1000 + i))
        (patched if score.info["filled_bars"] else complete).append(score)
    return (complete + patched)[: options.num_outputs]
