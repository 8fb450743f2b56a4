"""The load engine: worker processes that generate load, and the supervisor side that runs them."""
