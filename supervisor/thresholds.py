# TEMP: removed at merge, when the config modules import loadtest_supervisor.results.thresholds
from loadtest_supervisor.results.thresholds import Threshold, threshold_problem  # noqa: F401
