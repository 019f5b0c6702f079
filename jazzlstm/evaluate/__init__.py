"""The evaluation stage: is the generated music any good?

* :mod:`~jazzlstm.evaluate.music_metrics`: objective metrics of one piece (pitch-class, interval,
  note-length and inter-onset histograms, pitch range, pitch-class entropy, scale consistency,
  chord-tone ratio, empty-beat rate, groove consistency) and their mean / std over a set.
* :mod:`~jazzlstm.evaluate.distances`: Yang & Lerch's set-against-set comparison (intra- and
  inter-set distances, kernel densities, overlapping area and KL divergence).
* :mod:`~jazzlstm.evaluate.ngrams`: uniform, unigram and Kneser-Ney token baselines, in bits per token.
* :mod:`~jazzlstm.evaluate.memorization`: copied note n-grams and the longest copied span.
* :mod:`~jazzlstm.evaluate.heldout`: held-out bits per note of a model and of the baselines, on the same tokens.
* :mod:`~jazzlstm.evaluate.report` and :mod:`~jazzlstm.evaluate.plots`: ``jazzlstm evaluate``'s report
  (report.json, report.md, features.png, overlap.png); :func:`jazzlstm.api.evaluate` runs it.

Pure numpy on Scores and token lists: never imports Keras or TensorFlow (a test checks it).
"""
