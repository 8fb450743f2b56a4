"""loadtest-supervisor: HTTP load tests on one machine or a self-coordinating fleet."""

__version__ = "0.1.0"
