"""Sources: import a log file, acquire from MySQL, and the snapshot they both write."""
