"""Where a snapshot sits inside a checkpoint: one module per container."""
