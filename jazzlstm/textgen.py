"""``jazzlstm generate`` for character runs: text samples, and ABC tunes rendered to MIDI.

The same sampler as the music mode draws whole batches of samples at once. Runs trained on
samples (lines, tunes) start every sample from the end token and stop at the next one;
stream runs continue a prime text (or start where a new line would).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import InputFileError, JazzLSTMError
from .fileio import check_writable, numbered_paths, write_bytes_atomic
from .runs import Run
from .text import decode_text, prime_ids

MAX_ROUNDS = 5
"""Sampling rounds for ABC tunes before giving up on tunes that do not parse."""
CANDIDATES_PER_TUNE = 2
"""Tunes sampled per requested tune in each round (music21 rejects a few)."""


@dataclass(frozen=True)
class TextOptions:
    """What to generate (the CLI flags of ``jazzlstm generate`` for a character run)."""

    n: int = 1
    length: int | None = None        # characters; default: 200 (text), 1000 (ABC tunes)
    prime: str | None = None
    temperature: float = 1.0
    top_k: int | None = None
    greedy: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n", "length", "top_k"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise JazzLSTMError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if self.temperature <= 0:
            raise JazzLSTMError(f"--temperature must be positive, got {self.temperature}")


def sample_texts(run: Run, options: TextOptions, count: int | None = None, seed: int | None = None) -> list[str]:
    """``count`` (default ``options.n``) samples, each the prime followed by what the model wrote."""
    from .sampling import generate

    vocab, end = run.vocab, run.data_config.end_token
    count = options.n if count is None else count
    length = options.length or (1000 if run.data_config.mode == "abc" else 200)
    end_id = vocab.id(end) if end is not None and end in vocab else None
    prime = options.prime or ""
    ids = prime_ids(prime, vocab)
    if end_id is not None:
        primer = [end_id, *ids]       # a sample starts after an end token
    elif ids:
        primer = ids
    else:
        # Running text without a prime: start where a new line starts, if the text has lines.
        primer = [vocab.id("\n")] if "\n" in vocab else None
    top_k = None if options.top_k is None else min(options.top_k, len(vocab))
    result = generate(run.model, count, length, primer=primer, temperature=options.temperature, top_k=top_k,
                      greedy=options.greedy, seed=options.seed if seed is None else seed, stop_id=end_id)
    rows = result[0] if end_id is not None else result
    return [prime + decode_text(row, vocab, end) for row in rows]


def write_texts(texts: list[str], out: str | Path | None, force: bool = False, separator: str = "\n") -> list[Path]:
    """Print the samples, ``separator`` between them, or write them atomically to ``out``."""
    joined = separator.join(t.rstrip("\n") for t in texts) + "\n"
    if out is None:
        sys.stdout.write(joined)
        return []
    path = check_writable(out, force)
    write_bytes_atomic(path, joined.encode("utf-8"))
    return [path]


def render_tunes(run: Run, options: TextOptions, out: str | Path, force: bool = False, tempo: float = 120.0
                 ) -> tuple[list[Path], list[str]]:
    """Sample ABC tunes until ``options.n`` of them parse; write each as MIDI (and its ABC text
    beside it, same name with ``.abc``). Returns (paths written, reasons tunes were rejected).

    Tunes music21 cannot parse are sampled again, up to :data:`MAX_ROUNDS` rounds; if fewer
    than ``n`` parse by then, nothing is written and the error says why.
    """
    from .abc import tune_to_score
    from .midi_io import meter_problem, write_midi

    targets = numbered_paths(out, options.n, default_suffix=".mid")
    for target in targets:
        check_writable(target, force)
        check_writable(target.with_suffix(".abc"), force)
    accepted: list[tuple[str, object]] = []
    rejected: list[str] = []
    for round_ in range(MAX_ROUNDS):
        wanted = options.n - len(accepted)
        candidates = sample_texts(run, options, count=wanted * CANDIDATES_PER_TUNE,
                                  seed=options.seed + 7919 * round_)
        for i, tune in enumerate(candidates):
            if len(accepted) == options.n:
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
        if len(accepted) == options.n:
            break
    if len(accepted) < options.n:
        shown = "; ".join(dict.fromkeys(rejected))
        raise JazzLSTMError(f"only {len(accepted)} of {options.n} generated tune(s) parsed as ABC after "
                            f"{len(accepted) + len(rejected)} attempts ({shown[:300]})")
    for (tune, score), target in zip(accepted, targets):
        write_midi(score, target, tempo=tempo, force=force)
        write_bytes_atomic(target.with_suffix(".abc"), (f"X:1\n{tune}\n").encode("utf-8"))
    return targets, rejected
