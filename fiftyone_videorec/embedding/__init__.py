"""From a model folder to vectors in the dataset: model folders, FiftyOne's Model wrapper, embedding runs."""
