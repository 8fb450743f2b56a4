"""A run's results document: building it, its thresholds, its JSON file and its summary."""
