"""``aios eval``: a labelled corpus of small changes, reviewed and scored (precision, recall, F1)."""
