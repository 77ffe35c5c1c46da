"""Looking after a dataset: near-duplicates and leaks, class predictions' scores, ImageNet tags."""
