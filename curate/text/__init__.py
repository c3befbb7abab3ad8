"""Pure text rules: line normalization, hashing, bloom filter, dedup policies, classifier scoring."""
