"""Time one jazzlstm tree's read-and-encode path (``process_file``: read, melody, chords,
tokens, no cache) over a list of files, in this process, in CPU time.

bench_ingest.py runs it in a child process, once with today's package and once with an older
tree on PYTHONPATH (the round-1 pretty_midi path), so that both run the same loop without
sharing one interpreter. It never puts the repository on ``sys.path`` itself: the tree timed
is whichever ``jazzlstm`` PYTHONPATH (or the installed package) provides.

Run: python benchmarks/time_process_file.py FILE_LIST.json ENCODING [--passes 3]
(FILE_LIST.json: a JSON list of paths). Prints one JSON object: CPU milliseconds per file
(best pass), each file's best time, how many files gave tokens, and which package was timed.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings


def process_function(encoding: str):
    """``path -> record`` for the jazzlstm on the path: today's layout (jazzlstm.data.corpus)
    or round 1's (jazzlstm.corpus, whose settings took the encoding's name)."""
    try:
        from jazzlstm.config import CorpusConfig
        from jazzlstm.data.corpus import EncodingSettings, process_file

        settings = EncodingSettings.from_config(CorpusConfig(encoding=encoding))
    except ImportError:
        from jazzlstm.corpus import EncodingSettings, process_file

        settings = EncodingSettings(encoding=encoding)
    return lambda path: process_file(path, settings, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file_list")
    parser.add_argument("encoding")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    import jazzlstm

    with open(args.file_list, encoding="utf-8") as handle:
        paths = json.load(handle)
    process = process_function(args.encoding)
    warnings.simplefilter("ignore")  # pretty_midi's meta-event warnings in the old tree
    usable = sum("sequences" in process(p) for p in paths)  # warm-up: lazy imports, caches
    best = float("inf")
    per_file = [float("inf")] * len(paths)
    for _ in range(args.passes):
        start = time.process_time()
        for i, path in enumerate(paths):
            began = time.process_time()
            process(path)
            per_file[i] = min(per_file[i], time.process_time() - began)
        best = min(best, time.process_time() - start)
    print(json.dumps({"ms_per_file": round(1000 * best / len(paths), 4), "usable_files": usable,
                      "per_file_ms": [round(1000 * t, 4) for t in per_file],
                      "package": jazzlstm.__file__, "encoding": args.encoding}))


if __name__ == "__main__":
    main()
