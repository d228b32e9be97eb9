"""Signal analysis: figures now; metrics and codebook usage build on it."""
