"""kanjinum: numpy-only seq2seq networks that learn to read Japanese numerals."""

__version__ = "0.1.0"
