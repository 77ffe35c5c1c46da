"""Finding similar videos and moments: the Brain index, recommendations, moment search."""
