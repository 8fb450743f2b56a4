"""The demo target: an HTTP server to aim a test at (``--demo-target``, and the tests')."""
