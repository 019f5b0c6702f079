"""The tokens stage: the :class:`~jazzlstm.tokens.base.Tokenizer` interface, its encodings
(jazz grammar, notes, characters) and the :class:`~jazzlstm.tokens.vocab.Vocabulary`.

Never imports Keras or TensorFlow (a test checks it)."""
