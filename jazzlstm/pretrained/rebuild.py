"""Rebuild the pretrained run that ships inside jazzlstm (``jazzlstm/pretrained/default``).

``jazzlstm generate out.mid`` uses that run when no ``--run`` is given. It is made by the
project's own ``jazzlstm train`` on the bundled ``midi_samples/``, with the command below.
Run from anywhere, with jazzlstm installed:

    python jazzlstm/pretrained/rebuild.py
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent

# Every file of the small bundled corpus is needed to learn from, so nothing is held out
# for validation: the run keeps its last epoch.
TRAIN_ARGS = ["train", "--midi", "midi_samples", "--out", "jazzlstm/pretrained/default",
              "--encoding", "grammar", "--epochs", "40", "--n-a", "64", "--tx", "30",
              "--val-split", "0", "--seed", "0", "--no-cache", "--quiet", "--force"]


def main() -> None:
    subprocess.run([sys.executable, "-m", "jazzlstm", *TRAIN_ARGS], cwd=REPO, check=True)
    print(f"rebuilt with: jazzlstm {' '.join(TRAIN_ARGS)}")


if __name__ == "__main__":
    main()
