"""Running scenarios: executors, the replicate runner, results folders."""
