"""What a run shows while it runs, read from its running totals: the progress line and /metrics."""
