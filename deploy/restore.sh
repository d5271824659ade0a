#!/bin/sh
# Restore a backup made by backup.sh into the configured data directory and database.
#
#   restore.sh BACKUP_DIR [--force]
#
# Stop the site and the job runner first. SQLite: the database file is replaced (refused
# when one exists, unless --force). PostgreSQL: the dump is restored with pg_restore --clean
# into DAILYPAPERS_DATABASE_URL (an empty database, or --force to overwrite). The data
# directory's files (secret_key, index/) are unpacked, then `dailypapers db upgrade` brings
# an older backup's schema up to date. PYTHON as for backup.sh.
set -eu

BACKUP="${1:?usage: restore.sh BACKUP_DIR [--force]}"
FORCE="${2:-}"
[ -f "$BACKUP/MANIFEST" ] || { echo "restore.sh: $BACKUP has no MANIFEST" >&2; exit 1; }
if [ -z "${PYTHON:-}" ]; then
    dp="$(command -v dailypapers || true)"
    if [ -n "$dp" ] && [ -x "$(dirname "$dp")/python3" ]; then PYTHON="$(dirname "$dp")/python3"; else PYTHON=python3; fi
fi
DAILYPAPERS="${DAILYPAPERS_BIN:-$(dirname "$PYTHON")/dailypapers}"
[ -x "$DAILYPAPERS" ] || DAILYPAPERS=dailypapers

# The probe must not write a secret key into the data directory (a restore brings the real one).
eval "$(DAILYPAPERS_SECRET_KEY=probe-only-never-used-to-sign-anything-0123456789 "$PYTHON" - <<'PY'
import shlex
from dailypapers.settings import Settings
from sqlalchemy.engine import make_url
s = Settings()
url = s.effective_database_url
print(f"DATA_DIR={shlex.quote(str(s.data_dir.resolve()))}")
print(f"DB_URL={shlex.quote(url)}")
print(f"DB_KIND={make_url(url).get_backend_name()}")
print(f"DB_FILE={shlex.quote(make_url(url).database or '')}")
PY
)"
KIND="$(sed -n 's/^database=//p' "$BACKUP/MANIFEST")"
[ "$KIND" = "$DB_KIND" ] || { echo "restore.sh: the backup is $KIND, the configured database is $DB_KIND" >&2; exit 1; }

mkdir -p "$DATA_DIR"
case "$DB_KIND" in
    sqlite)
        if [ -e "$DB_FILE" ] && [ "$FORCE" != "--force" ]; then
            echo "restore.sh: $DB_FILE exists; stop the site and give --force to replace it" >&2
            exit 1
        fi
        rm -f "$DB_FILE-wal" "$DB_FILE-shm" "$DB_FILE-journal"
        cp "$BACKUP/database.sqlite3" "$DB_FILE.restoring"
        mv "$DB_FILE.restoring" "$DB_FILE"
        ;;
    postgresql)
        PG_URL="$(printf '%s' "$DB_URL" | sed 's#^postgresql+[a-z0-9]*://#postgresql://#')"
        set -- --no-owner --exit-on-error
        [ "$FORCE" = "--force" ] && set -- "$@" --clean --if-exists
        "${PG_RESTORE:-pg_restore}" "$@" --dbname="$PG_URL" "$BACKUP/database.dump"
        ;;
esac
if [ -f "$BACKUP/files.tar.gz" ]; then
    tar -C "$DATA_DIR" -xzf "$BACKUP/files.tar.gz"
fi
"$DAILYPAPERS" db upgrade
echo "restored $BACKUP into $DATA_DIR ($DB_KIND)"
