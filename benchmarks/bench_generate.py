"""Generation speed: jazzlstm's compiled sampler vs the classic unrolled inference model.

Same weights for both (one ``JazzLSTM``: Tx=30, n_a=64, 78 values, seeded):

* ``reference``: :func:`jazzlstm.model.music_inference_model` with Ty=50, called the way the
  classic course calls it - ``inference_model.predict([x0, a0, c0])`` for one sequence at a
  time; for context also with 64 sequences per ``predict`` call, and as an eager
  ``model(inputs)`` call;
* ``jazzlstm_sampler``: :func:`jazzlstm.model.sampling.sample_ids` - 64 sequences of 200 tokens in
  one batch, in one compiled ``tf.while_loop``; timed greedy (what the reference computes)
  and with temperature + top-k sampling.

``first_call_s`` includes graph building and tracing; ``tokens_per_s`` is the median of the
later calls. Prints one JSON object. Target (issue 3): sampler >= 20x the reference tokens/s.
Run: python benchmarks/bench_generate.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from jazzlstm.model import JazzLSTM  # noqa: E402
from jazzlstm.model.sampling import sample_ids  # noqa: E402

TX, N_A, N_VALUES = 30, 64, 78
TY_REFERENCE = 50
BATCH, LENGTH = 64, 200


def time_calls(call: Callable[[], object], tokens_per_call: int, repeats: int) -> dict:
    """First call (with tracing) and the median of ``repeats`` later calls, as tokens/s."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"tokens_per_call": tokens_per_call, "first_call_s": round(first, 3),
            "median_call_s": round(median, 4), "tokens_per_s": round(tokens_per_call / median)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    jazz = JazzLSTM.create(N_VALUES, n_a=N_A, tx=TX, seed=0)
    inference = jazz.inference_model(TY_REFERENCE)
    zeros = np.zeros((1, N_A), "float32")
    inputs = [np.zeros((1, 1, N_VALUES), "float32"), zeros, zeros]
    batch_zeros = np.zeros((BATCH, N_A), "float32")
    batch_inputs = [np.zeros((BATCH, 1, N_VALUES), "float32"), batch_zeros, batch_zeros]

    results = {
        "reference_predict": time_calls(lambda: inference.predict(inputs, verbose=0), TY_REFERENCE, args.repeats),
        "reference_predict_batch64": time_calls(lambda: inference.predict(batch_inputs, verbose=0),
                                                BATCH * TY_REFERENCE, args.repeats),
        "reference_direct_call": time_calls(lambda: inference(inputs, training=False), TY_REFERENCE, args.repeats),
        "jazzlstm_sampler_greedy": time_calls(lambda: sample_ids(jazz, BATCH, LENGTH, greedy=True),
                                              BATCH * LENGTH, args.repeats),
        "jazzlstm_sampler_top_k": time_calls(lambda: sample_ids(jazz, BATCH, LENGTH, temperature=0.9, top_k=10, seed=1),
                                             BATCH * LENGTH, args.repeats),
    }
    # The greedy sampler and the reference compute the same sequence from the same weights.
    reference_ids = np.argmax(np.stack(inference.predict(inputs, verbose=0), axis=1), axis=-1)[0]
    sampler_ids = sample_ids(jazz, 1, TY_REFERENCE, greedy=True)[0]
    reference = results["reference_predict"]["tokens_per_s"]
    print(json.dumps({
        "benchmark": "generate", "n_a": N_A, "n_values": N_VALUES,
        "reference": f"music_inference_model Ty={TY_REFERENCE}, 1 sequence per call",
        "sampler": f"{BATCH} sequences x {LENGTH} tokens per call",
        "cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__,
        "python": platform.python_version(),
        **results,
        "greedy_matches_reference": bool(np.array_equal(reference_ids, sampler_ids)),
        "speedup_greedy_vs_reference_predict": round(results["jazzlstm_sampler_greedy"]["tokens_per_s"] / reference, 1),
        "speedup_top_k_vs_reference_predict": round(results["jazzlstm_sampler_top_k"]["tokens_per_s"] / reference, 1),
        "speedup_greedy_vs_reference_predict_batch64": round(
            results["jazzlstm_sampler_greedy"]["tokens_per_s"] / results["reference_predict_batch64"]["tokens_per_s"], 1),
        "target": ">= 20x the reference tokens/s",
    }, indent=1))


if __name__ == "__main__":
    main()
