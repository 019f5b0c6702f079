"""The data stage: a folder of music files -> tokenized pieces (cache, workers, skip report),
text sources, and the numpy training windows cut from id sequences."""
