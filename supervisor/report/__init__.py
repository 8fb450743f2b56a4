"""The HTML report of a results document (``--report``): one self-contained file.

page                  the page: sections in order, the inlined style, its CSP
tables                summary, thresholds, steps, nodes, events as HTML tables
timeline_charts       throughput, errors, latency, in-flight, nodes over time
distribution_charts   the latency percentile plots (run, steps, nodes)
latency_distribution  a latency_hdr histogram as HdrHistogram's percentile curve
svg_chart             line charts as inline SVG
report_file           writing the report, and what to say when it cannot be written
"""
