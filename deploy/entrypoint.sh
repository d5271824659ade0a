#!/bin/sh
# Container entrypoint: bring the database schema up to date once, then run the role given.
#
#   entrypoint.sh web [serve options]     the site (DAILYPAPERS_HOST/PORT/WORKERS, default
#                                         0.0.0.0:8000, 2 workers), a pure web node
#                                         (`serve --no-jobs`: the jobs role keeps the index)
#   entrypoint.sh jobs [jobs options]     the job runner: ingest rss, index, digests daily
#                                         at DAILYPAPERS_JOBS_AT (UTC), and index upkeep
#                                         (new papers embedded, index rebuilt and published);
#                                         one holds the lease at a time
#   entrypoint.sh migrate                 only `dailypapers db upgrade`
#   entrypoint.sh dailypapers ARGS...     any command (`dailypapers user create ...`)
#   entrypoint.sh backup|restore ARGS...  deploy/backup.sh / deploy/restore.sh
#   entrypoint.sh OTHER ARGS...           runs OTHER as given (a shell, for instance)
#
# `db upgrade` waits while another process migrates the same database, and is a no-op when
# the schema is current, so a web and a jobs container starting together migrate once.
set -eu

DAILYPAPERS="${DAILYPAPERS_BIN:-dailypapers}"
role="${1:-web}"
[ "$#" -gt 0 ] && shift

migrate() {
    echo "entrypoint: migrating the database (dailypapers db upgrade)" >&2
    "$DAILYPAPERS" db upgrade
}

case "$role" in
    web)
        migrate
        exec "$DAILYPAPERS" serve \
            --host "${DAILYPAPERS_HOST:-0.0.0.0}" \
            --port "${DAILYPAPERS_PORT:-8000}" \
            --workers "${DAILYPAPERS_WORKERS:-2}" --no-jobs "$@"
        ;;
    jobs)
        migrate
        exec "$DAILYPAPERS" jobs "$@"
        ;;
    migrate)
        migrate
        ;;
    dailypapers)
        exec "$DAILYPAPERS" "$@"
        ;;
    backup)
        exec backup.sh "$@"
        ;;
    restore)
        exec restore.sh "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
