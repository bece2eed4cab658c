"""Detection-quality benchmark: labeled data with exact gold spans, scored on what is left."""
