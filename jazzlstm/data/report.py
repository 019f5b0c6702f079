"""Text report of what the data layer made of a corpus (``jazzlstm inspect``)."""
from __future__ import annotations

from jazzlstm.music.chords import describe_chords
from jazzlstm.data.corpus import Corpus


def piece_report(path: str, info: dict, n_notes: int, chords_text: str, tokens: list[str], show_tokens: int) -> str:
    lines = [path]
    for track in info.get("tracks", []):
        marker = "  <- melody" if track["index"] == info.get("melody_track") else ""
        kind = "drums" if track["is_drum"] else f"program {track['program']}"
        score = "-" if track.get("score") is None else f"{track['score']:.2f}"
        lines.append(f"  track {track['index']:>2} {track['name'][:24]!r:<26} {kind:<11} {track['notes']:>5} notes  "
                     f"monophony {track['monophony']:.2f}  mean pitch {track['mean_pitch']:5.1f}  "
                     f"coverage {track.get('coverage', 0.0):.2f}  melody score {score}{marker}")
    lines.append(f"  melody: track {info.get('melody_track')} - {info.get('melody_reason', '')}")
    if info.get("other_melody_tracks"):
        lines.append(f"  other melodic lines (each a sequence of its own): tracks "
                     f"{', '.join(str(i) for i in info['other_melody_tracks'])}")
    lines.append(f"  {n_notes} melody notes, {info.get('bars', '?')} bars; chords ({info.get('chord_source', '?')}): "
                 f"{chords_text}")
    shown = " ".join(tokens[:show_tokens]) + (" ..." if len(tokens) > show_tokens else "")
    lines.append(f"  {len(tokens)} tokens" + (f": {shown}" if show_tokens else ""))
    return "\n".join(lines)


def corpus_report(corpus: Corpus, show_tokens: int = 8) -> str:
    """Per-file details, then the skip list, totals and vocabulary size."""
    parts = [piece_report(p.path, p.score.info, len(p.score.melody), describe_chords(p.score.chords),
                          p.tokens, show_tokens) for p in corpus.pieces]
    parts.append(corpus.summary())
    parts.append(f"vocabulary: {len(corpus.vocabulary())} distinct {corpus.settings.encoding} tokens")
    return "\n".join(parts)
