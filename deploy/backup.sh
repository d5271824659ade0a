#!/bin/sh
# Back up a dailypapers site while it runs: the database and the data directory's files.
#
#   backup.sh [DEST]        (default DEST: ./backups)
#
# Writes DEST/dailypapers-<UTC time>/ holding
#   database.sqlite3   SQLite: a consistent copy made with SQLite's online backup API
#                      (safe while the site serves and writes), checked with integrity_check
#   database.dump      PostgreSQL: pg_dump --format=custom (for pg_restore)
#   files.tar.gz       the data directory without the database: secret_key (keep it: every
#                      mailed link and session is signed with it), index/, checkpoints
#   MANIFEST           when, which database kind, the schema revision
# Settings come from the environment as for every command (DAILYPAPERS_DATA_DIR,
# DAILYPAPERS_DATABASE_URL). PYTHON names the interpreter that has dailypapers installed
# (default: python3 next to the `dailypapers` command, else python3 on PATH).
set -eu

DEST="${1:-./backups}"
if [ -z "${PYTHON:-}" ]; then
    dp="$(command -v dailypapers || true)"
    if [ -n "$dp" ] && [ -x "$(dirname "$dp")/python3" ]; then PYTHON="$(dirname "$dp")/python3"; else PYTHON=python3; fi
fi

# data dir, database URL (SQLAlchemy form), database kind, schema revision
# The probe must not write a secret key into the data directory (a restore brings the real one).
eval "$(DAILYPAPERS_SECRET_KEY=probe-only-never-used-to-sign-anything-0123456789 "$PYTHON" - <<'PY'
import shlex
from dailypapers.settings import Settings
from dailypapers.storage.engine import make_engine
from dailypapers.storage.migrate import current_revision
s = Settings()
url = s.effective_database_url
engine = make_engine(url)
print(f"DATA_DIR={shlex.quote(str(s.data_dir.resolve()))}")
print(f"DB_URL={shlex.quote(url)}")
print(f"DB_KIND={engine.dialect.name}")
print(f"REVISION={shlex.quote(current_revision(engine) or 'none')}")
engine.dispose()
PY
)"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$DEST/dailypapers-$STAMP"
mkdir -p "$OUT"
umask 077

case "$DB_KIND" in
    sqlite)
        "$PYTHON" - "$DB_URL" "$OUT/database.sqlite3" <<'PY'
import sqlite3, sys
from sqlalchemy.engine import make_url
source = sqlite3.connect(make_url(sys.argv[1]).database, timeout=60)
target = sqlite3.connect(sys.argv[2])
with target:
    source.backup(target)  # page by page; writers keep writing, the copy is one snapshot
source.close()
check = target.execute("PRAGMA integrity_check").fetchone()[0]
target.close()
if check != "ok":
    sys.exit(f"backup failed integrity_check: {check}")
PY
        DB_FILE="$("$PYTHON" -c 'import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).database)' "$DB_URL")"
        ;;
    postgresql)
        PG_URL="$(printf '%s' "$DB_URL" | sed 's#^postgresql+[a-z0-9]*://#postgresql://#')"
        "${PG_DUMP:-pg_dump}" --format=custom --no-owner --file="$OUT/database.dump" "$PG_URL"
        DB_FILE=""
        ;;
    *)
        echo "backup.sh: unsupported database $DB_KIND" >&2
        exit 1
        ;;
esac

# The data directory's other files; the live database, its WAL and lock files are left out.
set -- --exclude='./outbox' --exclude='*.lock' --exclude='./.secret_key.*'
if [ -n "$DB_FILE" ]; then
    base="$(basename "$DB_FILE")"
    set -- "$@" --exclude="./$base" --exclude="./$base-wal" --exclude="./$base-shm" --exclude="./$base-journal"
fi
if [ -d "$DATA_DIR" ]; then
    tar -C "$DATA_DIR" "$@" -czf "$OUT/files.tar.gz" .
fi

cat > "$OUT/MANIFEST" <<MANIFEST
created=$STAMP
database=$DB_KIND
revision=$REVISION
MANIFEST
echo "$OUT"
