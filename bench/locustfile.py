"""Locust side of bench/http_throughput.py: FastHttpUser hammering GET / with no wait."""

from locust import FastHttpUser, constant, task


class Hammer(FastHttpUser):
    # No think time: like the engine's closed model, each user sends its next
    # request as soon as the previous answer arrives.
    wait_time = constant(0)

    @task
    def index(self) -> None:
        self.client.get("/")
