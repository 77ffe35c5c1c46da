"""The model side: layers, networks and presets, the frozen ImageNet backbone, training and its input."""
