"""Email digests: subscriptions, digest content, rendering and the exactly-once send run."""
