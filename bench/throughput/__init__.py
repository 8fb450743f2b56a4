"""bench/http_throughput.py's parts: what one run costs (measure), the load generators
that are run (generators) and the RESULTS.md section they add up to (report)."""
