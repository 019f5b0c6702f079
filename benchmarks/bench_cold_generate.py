"""Cold start of `jazzlstm generate out.mid`: wall time and peak RSS, side by side in one run with
`python -c "import tensorflow"` and with `jazzlstm generate --backend tf`.

Each command runs in a fresh process (``--repeats`` times, alternating, median reported); peak
RSS comes from wait4. The generate commands use the pretrained run and its defaults (8 bars).
Goal (issue 18): generate in less than a third of TensorFlow's import time, under 200 MB.
Prints one JSON object. Run: python benchmarks/bench_cold_generate.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}: {process.stderr.read().decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench_cold.")) / "solo.mid"
    jazzlstm = [sys.executable, "-m", "jazzlstm"]
    commands = {
        "import_tensorflow": [sys.executable, "-c", "import tensorflow"],
        "generate_numpy": [*jazzlstm, "generate", str(out), "--force"],
        "generate_tf": [*jazzlstm, "generate", str(out), "--force", "--backend", "tf"],
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            runs[name].append(timed(command))
    result = {name: {"seconds": round(statistics.median(s for s, _ in values), 3),
                     "peak_rss_mb": round(max(m for _, m in values), 1)} for name, values in runs.items()}
    imported = result["import_tensorflow"]["seconds"]
    result["generate_numpy_vs_tensorflow_import"] = round(result["generate_numpy"]["seconds"] / imported, 3)
    result["generate_tf_vs_numpy"] = round(result["generate_tf"]["seconds"] / result["generate_numpy"]["seconds"], 2)
    result["goals"] = {"under a third of the import": result["generate_numpy_vs_tensorflow_import"] < 1 / 3,
                       "under 200 MB": result["generate_numpy"]["peak_rss_mb"] < 200}
    result["repeats"] = args.repeats
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
