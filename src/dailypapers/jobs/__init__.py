"""Background work of a site, run by one elected runner: index upkeep and the day's jobs."""
