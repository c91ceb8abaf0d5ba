"""Running queries: the one query path, the one place a backend is chosen, executors and batches."""
