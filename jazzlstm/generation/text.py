"""``jazzlstm generate`` for character runs: text samples, and ABC tunes rendered to MIDI.

The same sampler as the music mode draws whole batches of samples at once. Runs trained on
samples (lines, tunes) start every sample from the end token and stop at the next one;
stream runs continue a prime text (or start where a new line would).
"""
from __future__ import annotations

import sys
from pathlib import Path

from jazzlstm.config import MusicConfig, SamplingConfig, TextConfig
from jazzlstm.errors import InputFileError, JazzLSTMError
from jazzlstm.fileio import check_writable, numbered_paths, write_bytes_atomic
from jazzlstm.runs import Run
from jazzlstm.tokens.chars import CharTokenizer, prime_ids

MAX_ROUNDS = 5
"""Sampling rounds for ABC tunes before giving up on tunes that do not parse."""
CANDIDATES_PER_TUNE = 2
"""Tunes sampled per requested tune in each round (music21 rejects a few)."""
TEXT_LENGTH = 200
"""Characters per text sample when no length is given."""
TUNE_LENGTH = 1000
"""Characters per ABC tune when no length is given (a tune ends at its end token sooner)."""


def sample_texts(run: Run, sampling: SamplingConfig, text: TextConfig, count: int | None = None,
                 seed: int | None = None) -> list[str]:
    """``count`` (default ``sampling.n``) samples, each the prime followed by what the model wrote,
    with TensorFlow's compiled sampler or, for a run loaded for numpy, a numpy loop."""
    vocab, end = run.vocab, run.data_config.end_token
    count = sampling.n if count is None else count
    length = text.length or (TUNE_LENGTH if run.data_config.mode == "abc" else TEXT_LENGTH)
    end_id = vocab.id(end) if end is not None and end in vocab else None
    prime = text.prime or ""
    ids = prime_ids(prime, vocab)
    if end_id is not None:
        primer = [end_id, *ids]       # a sample starts after an end token
    elif ids:
        primer = ids
    else:
        # Running text without a prime: start where a new line starts, if the text has lines.
        primer = [vocab.id("\n")] if "\n" in vocab else None
    options = sampling.sampler_options(len(vocab))
    options = {**options, "seed": options["seed"] if seed is None else seed}
    if getattr(run.model, "backend", "tf") == "numpy":
        # The numpy model (no TensorFlow): the same options, stepped in a numpy loop.
        from jazzlstm.model.search import StopAt, guided_sample

        model = run.model
        rows = guided_sample(model.step, model.n_values, model.initial_state(count),
                             [StopAt(model.n_values, end_id) for _ in range(count)], length,
                             primer=primer, **options)
    else:
        from jazzlstm.model.sampling import sample_ids

        result = sample_ids(run.model, count, length, primer=primer, stop_id=end_id, **options)
        rows = result[0] if end_id is not None else result
    tokenizer = CharTokenizer(end)
    return [prime + tokenizer.decode(vocab.decode(row)) for row in rows]


def write_texts(texts: list[str], out: str | Path | None, force: bool = False, separator: str = "\n") -> list[Path]:
    """Print the samples, ``separator`` between them, or write them atomically to ``out``."""
    joined = separator.join(t.rstrip("\n") for t in texts) + "\n"
    if out is None:
        sys.stdout.write(joined)
        return []
    path = check_writable(out, force)
    write_bytes_atomic(path, joined.encode("utf-8"))
    return [path]


def render_tunes(run: Run, sampling: SamplingConfig, text: TextConfig, out: str | Path, force: bool = False,
                 tempo: float = MusicConfig.tempo) -> tuple[list[Path], list[str]]:
    """Sample ABC tunes until ``sampling.n`` of them parse; write each as MIDI (and its ABC text
    beside it, same name with ``.abc``). Returns (paths written, reasons tunes were rejected).

    Tunes music21 cannot parse are sampled again, up to :data:`MAX_ROUNDS` rounds; if fewer
    than ``n`` parse by then, nothing is written and the error says why.
    """
    from jazzlstm.music.abc import tune_to_score
    from jazzlstm.music.midi import meter_problem, write_midi

    targets = numbered_paths(out, sampling.n, default_suffix=".mid")
    for target in targets:
        check_writable(target, force)
        check_writable(target.with_suffix(".abc"), force)
    accepted: list[tuple[str, object]] = []
    rejected: list[str] = []
    for round_ in range(MAX_ROUNDS):
        wanted = sampling.n - len(accepted)
        candidates = sample_texts(run, sampling, text, count=wanted * CANDIDATES_PER_TUNE,
                                  seed=sampling.seed + 7919 * round_)
        for i, tune in enumerate(candidates):
            if len(accepted) == sampling.n:
                break
            try:
                score = tune_to_score(tune, f"generated tune {len(rejected) + len(accepted) + 1}")
            except InputFileError as exc:
                rejected.append(exc.reason)
                continue
            if not score.melody:
                rejected.append("no notes")
                continue
            problem = meter_problem(score)
            if problem:
                rejected.append(problem)
                continue
            accepted.append((tune, score))
        if len(accepted) == sampling.n:
            break
    if len(accepted) < sampling.n:
        shown = "; ".join(dict.fromkeys(rejected))
        raise JazzLSTMError(f"only {len(accepted)} of {sampling.n} generated tune(s) parsed as ABC after "
                            f"{len(accepted) + len(rejected)} attempts ({shown[:300]})")
    for (tune, score), target in zip(accepted, targets):
        write_midi(score, target, tempo=tempo, force=force)
        write_bytes_atomic(target.with_suffix(".abc"), (f"X:1\n{tune}\n").encode("utf-8"))
    return targets, rejected
