"""The model's layer code is written in keras.ops: it runs on other Keras backends (JAX, e.g. on
a GPU where TensorFlow is not installed) and computes the same function there."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from conftest import run_python_json

OTHER_BACKEND = """
import json, sys
import numpy as np
from jazzlstm.model import JazzLSTM

weights = np.load(sys.argv[1])
ids = np.load(sys.argv[2])
out = {}
for implementation in ("unrolled", "loop", "fused"):
    jazz = JazzLSTM.create(20, n_a=8, tx=ids.shape[1], implementation=implementation)
    jazz.training_model.set_weights([weights[f"w{i}"] for i in range(len(weights.files))])
    out[implementation] = np.asarray(jazz.training_model(ids)).tolist()
print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules, "out": out}))
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install jax)")
def test_the_training_model_computes_the_same_on_jax_without_tensorflow(tmp_path):
    from jazzlstm.model import JazzLSTM

    ids = np.random.default_rng(1).integers(0, 20, size=(4, 12)).astype("int32")
    jazz = JazzLSTM.create(20, n_a=8, tx=12, seed=0)
    expected = np.asarray(jazz.training_model(ids))
    np.savez(tmp_path / "weights.npz", **{f"w{i}": w for i, w in enumerate(jazz.training_model.get_weights())})
    np.save(tmp_path / "ids.npy", ids)
    report = run_python_json(OTHER_BACKEND, str(tmp_path / "weights.npz"), str(tmp_path / "ids.npy"),
                             KERAS_BACKEND="jax")
    assert not report["tensorflow_imported"]
    for implementation, out in report["out"].items():
        np.testing.assert_allclose(np.array(out), expected, atol=1e-5, err_msg=implementation)
