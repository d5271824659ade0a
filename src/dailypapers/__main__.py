"""``python -m dailypapers``."""

from dailypapers.cli import main

main()
