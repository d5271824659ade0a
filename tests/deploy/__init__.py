"""Deployment kit: container files, probes, logs, metrics, jobs, backup and restore."""
