"""Every setting's default, help text and validation, once: frozen dataclasses.

The CLI builds its flags from these fields (default and help included), the Python API takes
them as keyword arguments, and run folders save the model, training and data records as JSON.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Type, TypeVar

from jazzlstm.errors import ConfigError, JazzLSTMError

T = TypeVar("T")

SPLIT_SILENCE_BARS = 4
"""Silence of more than this many bars splits a piece into separate training sequences."""
MUSIC_TX = 30
"""Tokens per training window for music."""
STREAM_TX = 64
"""Window length for running text and ABC tunes: the longest window the fast path unrolls."""
MAX_LINE_TX = 128
"""Longest window for one-sample-per-line text; longer lines are cut into several windows."""
STRATEGIES = ("auto", "default", "one-device", "mirrored", "multi-worker", "tpu")
"""The ``tf.distribute`` strategies training can run under (see :mod:`jazzlstm.training.distribute`)."""
DEFAULT_RUN_DIR = "jazzlstm-run"
BACKENDS = ("numpy", "tf")
"""What runs a model for music generation: numpy (read from the weights file) or TensorFlow."""
"""The run folder ``train`` writes when none is named."""
SHUFFLE_BUFFER = 10_000
"""Windows in the shuffle buffer of the streamed training pipeline (``train --data``)."""
BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner", "PrismRunner")
"""Apache Beam runners ``prepare`` accepts by name (only the DirectRunner is tested)."""


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with its command-line help (``cli``: extra argparse options)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network. ``n_values`` comes from the vocabulary and ``tx`` from the data's
    layout when not given (30 for music, 64 for running text, the longest line for lines)."""

    n_values: int | None = None
    n_a: int = setting(64, "LSTM units")
    tx: int | None = setting(None, "tokens per training window (default: 30 for music, 64 for running text "
                                   "and ABC, the longest line for --lines)")
    layers: int = setting(1, "stacked LSTM layers, each of n_a units")
    dropout: float = setting(0.0, "dropout rate (training only) between stacked LSTM layers and before the "
                                  "output layer")

    def __post_init__(self) -> None:
        _require_positive(self, "n_values", "n_a", "tx", "layers")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is fitted."""

    epochs: int = setting(40, "training epochs")
    batch_size: int = setting(32, "global batch size; for running text, the number of parallel streams")
    lr: float = setting(0.01, "Adam learning rate")
    clipnorm: float | None = setting(1.0, "gradient clipping norm, 0 for none")
    val_split: float = setting(0.1, "share held out for validation: files (music), lines, or the end of the text")
    stride: int | None = setting(None, "music: tokens between window starts (default: 1; 2 for the event "
                                       "encodings, whose notes take several tokens)")
    seed: int = setting(0, "random seed")
    strategy: str = setting("auto", "tf.distribute strategy: auto picks a TPU, a TF_CONFIG cluster, several "
                                    "GPUs (mirrored), one GPU or the CPU, in that order", choices=STRATEGIES)
    mixed_precision: bool = setting(False, "compute the LSTM in float16 (GPU) or bfloat16 (TPU, CPU); "
                                           "the softmax stays float32")
    xla: bool = setting(False, "compile training steps with XLA")
    shuffle: bool = setting(True, "shuffle the training windows every epoch (off: corpus order, to compare runs)")
    shuffle_buffer: int = setting(SHUFFLE_BUFFER, "--data: windows in the shuffle buffer of the streamed "
                                                  "pipeline (record files are also read in a new order every epoch)")

    def __post_init__(self) -> None:
        if self.clipnorm == 0:
            object.__setattr__(self, "clipnorm", None)  # 0 means no clipping, as on the command line
        _require_positive(self, "epochs", "batch_size", "lr", "stride", "clipnorm", "shuffle_buffer")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"val_split must be in [0, 1), got {self.val_split}")
        _require_choice(self, "strategy", STRATEGIES)


@dataclass(frozen=True)
class CorpusConfig:
    """How music files are read and tokenized (and so what the cache is keyed by)."""

    encoding: str = setting("grammar-events", "token encoding: grammar-events (the jazz grammar factored: type, "
                                              "interval, duration tokens; chord-conditioned), grammar (the classic "
                                              "grammar, one token per note), note-events (pitch, duration), notes "
                                              "(one token per note), degree-events (degree over the chord's root, "
                                              "direction, duration; chords with their root motion)")
    melody_track: int | str | None = setting(None, "use this track (index or name) as the melody instead of "
                                                   "the automatic choice; 'all': every melodic line of a file "
                                                   "becomes a training sequence of its own")
    transpose: str = setting("none", "notes encodings: transpose to C major/A minor ('key') or by N semitones")
    augment: tuple[int, ...] | None = setting(None, "absolute encodings: extra transpositions in semitones, "
                                                    "added as training sequences (default: none for notes, "
                                                    "-3..+3 for note events)")
    split_silence_bars: int = setting(SPLIT_SILENCE_BARS, "silence of more than this many bars splits a piece "
                                                          "into separate training sequences")
    workers: int | None = setting(None, "reader processes (default: one per core)")
    cache: bool | str = setting(True, "reuse files already read: True for ~/.cache/jazzlstm (or "
                                      "$JAZZLSTM_CACHE_DIR), a folder, or False to re-read every file")
    file_timeout: float | None = setting(20.0, "seconds one file may take to read; a file that takes longer is "
                                               "skipped (0: no limit)")
    file_memory_mb: float | None = setting(1024, "memory in MB one file may need to read; a file that needs more "
                                                 "is skipped (0: no limit)")

    def __post_init__(self) -> None:
        from jazzlstm.tokens.registry import music_tokenizer_names  # lazily: tokens import this module

        _require_choice(self, "encoding", music_tokenizer_names())
        object.__setattr__(self, "transpose", str(self.transpose))
        if self.augment is not None:
            object.__setattr__(self, "augment", tuple(int(a) for a in self.augment))
        if self.transpose not in ("none", "key"):
            try:
                int(self.transpose)
            except ValueError:
                raise ConfigError(f"transpose must be 'none', 'key' or semitones, not {self.transpose!r}") from None
        for name in ("file_timeout", "file_memory_mb"):
            if getattr(self, name) == 0:
                object.__setattr__(self, name, None)  # 0 means no limit, as on the command line
        _require_positive(self, "workers", "file_timeout", "file_memory_mb", "split_silence_bars")


@dataclass(frozen=True)
class PrepareConfig:
    """How ``jazzlstm prepare`` runs its Apache Beam pipeline (the reading settings are a
    :class:`CorpusConfig`; its ``workers`` are the DirectRunner's worker processes)."""

    runner: str = setting("DirectRunner", "Apache Beam runner (only the DirectRunner is tested; the others need "
                                          "their own pipeline options, passed after --)", choices=BEAM_RUNNERS)
    shards: int | None = setting(None, "record files to write (default: one per 1,000 files, at least 1 and at "
                                       "most 1,024); several let workers of a cluster each read their own")

    def __post_init__(self) -> None:
        _require_choice(self, "runner", BEAM_RUNNERS)
        _require_positive(self, "shards")


@dataclass(frozen=True)
class DataConfig:
    """What the model was trained on: the mode, the encoding and how samples were laid out."""

    mode: str = "music"               # music | text | abc
    encoding: str = "grammar"         # a tokenizer name (see jazzlstm.tokens.registry)
    melody_track: int | str | None = None
    transpose: str = "none"
    sources: tuple[str, ...] = field(default_factory=tuple)
    text_layout: str | None = None    # text and abc: lines | stream
    end_token: str | None = None      # the token that starts and ends a sample (lines, tunes)
    tokenizer: dict = field(default_factory=dict)  # Tokenizer.config(); empty in runs of jazzlstm 0.1

    def tokenizer_config(self) -> dict:
        """The tokenizer's config; for runs written before tokenizers saved one, rebuilt from
        the encoding settings they did save."""
        from jazzlstm.tokens.registry import own_options

        if self.tokenizer:
            return dict(self.tokenizer)
        saved = {"transpose": self.transpose, "end_token": self.end_token}
        return {"name": self.encoding, "version": 1, **own_options(self.encoding, saved)}

    @property
    def layout(self) -> str:
        """How training windows are cut: music | lines | stream."""
        return "music" if self.mode == "music" else str(self.text_layout)

    @property
    def is_text(self) -> bool:
        return self.mode in ("text", "abc")


@dataclass(frozen=True)
class SamplingConfig:
    """How token sequences are drawn from a model (music and text alike)."""

    n: int = setting(1, "how many pieces or samples")
    temperature: float = setting(1.0, "sampling temperature")
    top_k: int | None = setting(None, "sample among the k most likely tokens (a k above the vocabulary size: all)")
    greedy: bool = setting(False, "always take the most likely token")
    seed: int = setting(0, "random seed: same seed, same output")

    def __post_init__(self) -> None:
        _require_positive(self, "n", "temperature", "top_k")
        if self.temperature == float("inf"):
            raise ConfigError(f"temperature must be finite, got {self.temperature}")

    def sampler_options(self, n_values: int) -> dict[str, Any]:
        """Keyword arguments for :meth:`jazzlstm.model.sampling.Sampler.sample` over a vocabulary
        of ``n_values`` tokens (a ``top_k`` beyond it restricts nothing: every token)."""
        top_k = None if self.top_k is None else min(self.top_k, n_values)
        return {"temperature": self.temperature, "top_k": top_k, "greedy": self.greedy, "seed": self.seed}


def same_as(cls: type, name: str) -> Any:
    """A field with the default and help of ``cls``'s field ``name`` (one place for both)."""
    original = cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return field(default=original.default, metadata=original.metadata)


@dataclass(frozen=True)
class MusicConfig:
    """What music to generate over which chords."""

    bars: int = setting(8, "bars to generate")
    chords: str | None = setting(None, "chord progression, one chord per bar, cycled to fill --bars")
    chords_from: str | None = setting(None, "take the chords of a MIDI/MusicXML file")
    primer: str | None = setting(None, "continue the melody of this file")
    tempo: float = setting(120.0, "tempo in BPM")
    beam: int = setting(1, "beam search: keep this many candidates per piece (1: plain sampling)")
    branch_factor: int = setting(2, "beam search: continuations sampled per candidate at each step")
    harmony_weight: float = setting(0.0, "beam search: bonus in nats per chord tone added to the model's "
                                         "log-likelihood")
    backend: str = setting("numpy", "run the model with numpy (starts in a second, no TensorFlow) or tf "
                                    "(TensorFlow, and its compiled sampler for the one-token encodings)",
                           choices=BACKENDS)

    def __post_init__(self) -> None:
        _require_positive(self, "bars", "tempo", "beam", "branch_factor")
        _require_choice(self, "backend", BACKENDS)
        if not 0.0 <= self.harmony_weight < float("inf"):
            raise ConfigError(f"harmony_weight must be >= 0 and finite, got {self.harmony_weight}")


@dataclass(frozen=True)
class TextConfig:
    """What text to generate from a character run."""

    length: int | None = setting(None, "characters per sample, at most (default: 200; ABC tunes: 1000); samples "
                                       "of a --lines or ABC run stop at their end token")
    prime: str | None = setting(None, "start every sample with this text")

    def __post_init__(self) -> None:
        _require_positive(self, "length")


def _require_positive(obj: Any, *names: str) -> None:
    """Each named value, where given (not None), must be above zero."""
    for name in names:
        value = getattr(obj, name)
        if value is not None and not value > 0:
            raise ConfigError(f"{name} must be positive, got {value}")


def _require_choice(obj: Any, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(obj, name)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def split_settings(settings: Mapping[str, Any], *classes: type) -> list[Any]:
    """Build one record of each class from keyword ``settings`` (each name goes to the class
    that has it); a name no class has is an error naming it."""
    names = [{f.name for f in fields(cls)} for cls in classes]
    unknown = sorted(set(settings) - set().union(*names))
    if unknown:
        known = sorted(set().union(*names))
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return [cls(**{k: v for k, v in settings.items() if k in own}) for cls, own in zip(classes, names)]


def to_dict(config: Any) -> dict:
    return asdict(config)


def from_dict(cls: Type[T], data: dict) -> T:
    """Build ``cls`` from a dict, ignoring unknown keys (newer files) but not bad values."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
    try:
        return cls(**values)
    except TypeError as exc:
        raise JazzLSTMError(f"bad {cls.__name__} in config.json ({exc})") from None


@dataclass(frozen=True)
class EvaluateConfig:
    """What ``jazzlstm evaluate`` compares with the reference pieces: pieces sampled from the
    run (or read from ``generated``), and the training pieces (``training``, else the run's own
    sources where they still exist)."""

    n: int = setting(64, "pieces to sample from the run")
    chords: str | None = setting(None, "sample over this progression, one chord per bar, cycled to fill --bars "
                                       "(default: for each piece a stretch of a progression seen in training)")
    bars: int = setting(16, "bars per sampled piece")
    temperature: float = setting(1.0, "sampling temperature")
    top_k: int | None = setting(None, "sample among the k most likely tokens")
    seed: int = setting(0, "random seed: same seed, same pieces")
    generated: str | None = setting(None, "evaluate the MIDI/MusicXML files under this folder instead of "
                                          "sampling from the run")
    training: str | None = setting(None, "the training pieces, for memorization and the n-gram baselines "
                                         "(default: the run's training sources, where they still exist)")
    beam: int = same_as(MusicConfig, "beam")
    branch_factor: int = same_as(MusicConfig, "branch_factor")
    harmony_weight: float = same_as(MusicConfig, "harmony_weight")

    def __post_init__(self) -> None:
        _require_positive(self, "n", "bars", "temperature", "top_k")
        if self.temperature == float("inf"):
            raise ConfigError(f"temperature must be finite, got {self.temperature}")
        MusicConfig(beam=self.beam, branch_factor=self.branch_factor, harmony_weight=self.harmony_weight)
