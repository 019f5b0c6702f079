"""Rebuild the pretrained run that ships inside jazzlstm (``jazzlstm/pretrained/default``).

``jazzlstm generate out.mid`` uses that run when no ``--run`` is given. It is made by the
project's own ``jazzlstm train`` on the bundled ``midi_samples/``, with the command below,
then its model file is saved again without the optimizer state (generation never needs it;
the file shrinks to a third). Run from anywhere, with jazzlstm installed:

    python jazzlstm/pretrained/rebuild.py
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up notices

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET = HERE / "default"

# Every file of the small bundled corpus is needed to learn from, so nothing is held out
# for validation: the run keeps its last epoch.
TRAIN_ARGS = ["train", "--midi", "midi_samples", "--out", "jazzlstm/pretrained/default",
              "--encoding", "grammar", "--epochs", "40", "--n-a", "64", "--tx", "30",
              "--val-split", "0", "--seed", "0", "--no-cache", "--quiet", "--force"]


def main() -> None:
    subprocess.run([sys.executable, "-m", "jazzlstm", *TRAIN_ARGS], cwd=REPO, check=True)
    from jazzlstm.model import save_model
    from jazzlstm.runs import MODEL_FILE, load_run

    run = load_run(TARGET)  # loads the model uncompiled: no optimizer to save
    save_model(run.model, TARGET / MODEL_FILE)
    print(f"rebuilt {TARGET.relative_to(REPO)}: jazzlstm {' '.join(TRAIN_ARGS)}")


if __name__ == "__main__":
    main()
