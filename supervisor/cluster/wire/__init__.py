"""Generated gRPC code for ``protos/loadtest.proto``; regenerate with ``scripts/gen-protos``."""
