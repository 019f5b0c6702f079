"""``jazzlstm generate`` for music runs: sample ids, decode over chords, write MIDI files.

Sampling happens in one batch with a few spare candidates; candidates whose bars all have
notes are preferred, and any bar left empty gets a chord tone on its downbeat
(:func:`jazzlstm.generation.arrange.shape_melody`). The same seed gives the same files.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

from jazzlstm.generation import arrange
from jazzlstm.config import MusicConfig, SamplingConfig
from jazzlstm.errors import InputFileError
from jazzlstm.fileio import check_writable, numbered_paths
from jazzlstm.music.midi import write_midi
from jazzlstm.music.reading import read_score
from jazzlstm.runs import Run
from jazzlstm.music.score import Chord, Score

TOKENS_PER_BAR = 16
"""Tokens sampled per requested bar: generous, so that even sixteenth-note lines fill the bars."""
SPARE_CANDIDATES = 3
"""Extra sequences sampled per requested output, to prefer ones without empty bars."""


def choose_chords(run: Run, options: MusicConfig, rng: random.Random) -> list[Chord]:
    """--chords, else --chords-from FILE, else a stretch of a progression seen in training."""
    beats = options.bars * 4.0
    if options.chords:
        return arrange.fit_progression(arrange.progression_from_names(options.chords), beats)
    if options.chords_from:
        chords = read_score(options.chords_from).chords
        if not chords:
            raise InputFileError(options.chords_from, "no chords found")
        return arrange.fit_progression(chords, beats)
    if run.progressions:
        return arrange.pick_progression(run.progressions, options.bars, rng)
    return arrange.fit_progression(arrange.progression_from_names("Cmaj7 Am7 Dm7 G7"), beats)


def primer_ids(run: Run, path: str) -> list[int]:
    """The primer file's tokens in the run's encoding, as ids (tokens the model never saw are
    dropped; a primer with none left is an error)."""
    score = read_score(path, run.data_config.melody_track)
    tokens = run.tokenizer.encode(score)
    ids = run.vocab.encode(tokens, on_unknown="skip")
    if not ids:
        raise InputFileError(path, "primer: none of its tokens occur in the model's vocabulary")
    return ids


def generate_music(run: Run, out: str | Path, sampling: SamplingConfig, music: MusicConfig,
                   force: bool = False) -> list[Path]:
    """Generate ``sampling.n`` MIDI files at ``out`` (numbered when several)."""
    targets = numbered_paths(out, sampling.n, default_suffix=".mid")
    for target in targets:  # check them all before writing any
        check_writable(target, force)
    scores = generate_scores(run, sampling, music)
    for score, target in zip(scores, targets):
        write_midi(score, target, tempo=music.tempo, force=force)
    return targets


def generate_scores(run: Run, sampling: SamplingConfig, music: MusicConfig,
                    chords: Sequence[Chord] | None = None) -> list[Score]:
    """The ``sampling.n`` Scores :func:`generate_music` writes, without writing them (``chords``:
    the progression to play over instead of the one :func:`choose_chords` picks)."""
    rng = random.Random(sampling.seed)
    if chords is None:
        chords = choose_chords(run, music, rng)
    primer = primer_ids(run, music.primer) if music.primer else None
    n = sampling.n * (1 + SPARE_CANDIDATES)
    ids = sample_music_ids(run, n, chords, sampling, music, primer)
    return _pick_scores(run, ids, chords, sampling, music)


def sample_music_ids(run: Run, n: int, chords: Sequence[Chord], sampling: SamplingConfig, music: MusicConfig,
                     primer: list[int] | None = None) -> Sequence[Sequence[int]]:
    """``n`` id sequences for ``music.bars`` bars over ``chords``.

    The event encodings follow a guide (:mod:`jazzlstm.tokens.guide`: only tokens their grammar
    allows, bar and chord tokens where the progression puts them), and so does beam search
    (``music.beam`` > 1). With a Keras model the one-token encodings sample in one compiled
    loop; a numpy model (:class:`~jazzlstm.model.numpy_lstm.NumpyLSTM`) samples every
    encoding through :mod:`jazzlstm.model.search`."""
    from jazzlstm.model.search import beam_search, guided_sample
    from jazzlstm.tokens.events import EventTokenizer
    from jazzlstm.tokens.guide import make_guides

    tokenizer, model = run.tokenizer, run.model
    length = music.bars * TOKENS_PER_BAR * tokenizer.tokens_per_note
    options = sampling.sampler_options(len(run.vocab))
    numpy_model = getattr(model, "backend", "tf") == "numpy"
    guided = isinstance(tokenizer, EventTokenizer)
    if not numpy_model and not guided and music.beam == 1:
        from jazzlstm.model.sampling import sample_ids

        return sample_ids(model, n, length, primer=primer, **options)
    step = model.step if numpy_model else model.sampler().numpy_step
    beats = music.bars * 4.0
    guides = (make_guides(tokenizer, run.vocab.tokens, arrange.fit_progression(chords, beats), n, until=beats,
                          primer=primer or ()) if guided or music.beam > 1 else n)
    state = model.initial_state(n)
    if music.beam == 1:
        return guided_sample(step, len(run.vocab), state, guides, length, primer=primer, **options)
    return beam_search(step, len(run.vocab), state, guides, length, music.beam, music.branch_factor,
                       harmony_weight=music.harmony_weight, primer=primer, temperature=options["temperature"],
                       top_k=options["top_k"], seed=options["seed"])


def _pick_scores(run: Run, ids, chords: Sequence[Chord], sampling: SamplingConfig, music: MusicConfig
                 ) -> list[Score]:
    """Decode every candidate; those that needed no fallback note come first, in order."""
    complete, patched = [], []
    for i, row in enumerate(ids):
        score = arrange.score_from_tokens(run.vocab.decode(row), run.tokenizer, chords, music.bars, music.tempo,
                                          random.Random(sampling.seed * 1000 + i))
        (patched if score.info["filled_bars"] else complete).append(score)
    return (complete + patched)[: sampling.n]
