"""Build the bundled demo sample from ../shared/data/arxiv-daily-feed (a maintainer tool).

Takes every feed day of 2026-05 and 2026-06 and keeps up to 75 papers per day (ids in order),
writing
our own export format to src/dailypapers/sample/papers.jsonl.gz.  The product never reads
../shared; it reads only the file this script writes.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "arxiv-daily-feed" / "papers.jsonl.gz"
TARGET = ROOT / "src" / "dailypapers" / "sample" / "papers.jsonl.gz"
PER_DAY = 75


def main() -> None:
    """Write the sample file."""
    by_day: dict[str, list[dict[str, object]]] = defaultdict(list)
    with gzip.open(SOURCE, "rt", encoding="utf-8") as handle:
        for line in handle:
            paper = json.loads(line)
            day = paper["first_seen"]
            if day[:7] in ("2026-05", "2026-06") and len(by_day[day]) < PER_DAY:
                by_day[day].append(paper)
    count = 0
    with gzip.GzipFile(TARGET, "wb", mtime=0) as out:
        for day in sorted(by_day):
            for paper in by_day[day]:
                record = {
                    "id": paper["id"],
                    "version": 1,
                    "title": paper["title"],
                    "abstract": paper["abstract"],
                    "authors": paper["authors"],
                    "categories": paper["categories"],
                    "primary_category": paper["primary_category"],
                    "published": f"{day}T00:00:00+00:00",
                    "updated": f"{day}T00:00:00+00:00",
                    "comment": paper["comment"],
                    "journal_ref": None,
                    "doi": None,
                    "license": None,
                    "day": day,
                    "submitted_by": None,
                    "upvotes": 0,
                }
                out.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
                count += 1
    print(f"wrote {count} papers over {len(by_day)} days to {TARGET}")


if __name__ == "__main__":
    main()
