"""The training stage: fit under a ``tf.distribute`` strategy, the tf.data pipelines,
backups and resume, and the multi-worker glue.

Named ``training`` (not ``train``) so that importing it never hides :func:`jazzlstm.train`."""
