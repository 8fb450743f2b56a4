"""Request statistics: recorded in workers, merged in the supervisor, reported at the end."""
