#!/usr/bin/env bash
# A real PostgreSQL with pgvector on a free loopback port, for tests and CI.
#
#   scripts/postgres.sh start DIR    start it (creating the cluster on first use); the last
#                                    line on stdout is its URL, postgres://vsearch@127.0.0.1:PORT/vsearch
#   scripts/postgres.sh stop DIR     fast shutdown; nothing to do if it is not running
#   scripts/postgres.sh status DIR   "running URL" (exit 0) or "stopped" (exit 3)
#   scripts/postgres.sh url DIR      the URL recorded in DIR
#
# Debian 12 has PostgreSQL 15 but no pgvector package, so the server comes from the pgserver wheel
# (PostgreSQL 16 with pgvector, built for manylinux) in the Python environment, ${VSEARCH_VENV:-.venv}.
# Its programs are run directly; pgserver's Python API is not used.
#
# DIR holds data/ (the cluster), postgres.log (the server's log) and port. Authentication is trust
# from 127.0.0.1: any local user can connect as the superuser `vsearch`, so keep test data only.
# PostgreSQL refuses to run as root; as root the server runs as the owner of DIR/data, else as
# $VSEARCH_PG_USER (default vsearch-pg, created as a system user if missing).
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }
die() {
    echo "postgres.sh: error: $*" >&2
    exit 1
}

if [ $# -ne 2 ] || [ -z "$2" ]; then
    echo "usage: scripts/postgres.sh start|stop|status|url DIR" >&2
    exit 2
fi
command=$1
dir=$2
case $command in start | stop | status | url) ;; *) die "unknown command '$command' (start, stop, status or url)" ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VSEARCH_VENV:-.venv}
# python-env.sh resolves a relative VSEARCH_VENV from the repository, and so must this.
case $venv in /*) ;; *) venv=$repo/$venv ;; esac

if [ -e "$dir" ] && [ ! -d "$dir" ]; then
    die "$dir exists and is not a directory"
fi
if [ "$command" = start ]; then
    mkdir -p "$dir" || die "cannot create $dir"
fi
if [ -d "$dir" ]; then
    dir=$(cd "$dir" && pwd)
fi
data=$dir/data
log=$dir/postgres.log
superuser=vsearch
database=vsearch

url_for() { echo "postgres://$superuser@127.0.0.1:$1/$database"; }

recorded_port() {
    local port
    port=$(cat "$dir/port" 2>/dev/null) || return 1
    [[ $port =~ ^[0-9]+$ ]] || die "$dir/port does not hold a port number: '$port'"
    echo "$port"
}

if [ "$command" = url ]; then
    port=$(recorded_port) || die "no server recorded in $dir (no $dir/port): run scripts/postgres.sh start $dir"
    url_for "$port"
    exit 0
fi

# The PostgreSQL programs. A copy in DIR (made when root's service user could not reach the
# virtual environment) wins, because the cluster was made with it.
find_install() {
    if [ -x "$dir/pg/pgserver/pginstall/bin/postgres" ]; then
        echo "$dir/pg/pgserver/pginstall"
        return
    fi
    local package
    package=$("$venv/bin/python" -c \
        'import importlib.util as u; s = u.find_spec("pgserver"); print(s.submodule_search_locations[0] if s else "")' \
        2>/dev/null) || package=""
    if [ -z "$package" ] || [ ! -x "$package/pginstall/bin/postgres" ]; then
        return 1
    fi
    echo "$package/pginstall"
}

if [ "$command" = start ]; then
    # Installs pgserver (scripts/requirements.txt) if the environment lacks it; quick when nothing changed.
    bash "$repo/scripts/python-env.sh" >&2 || die "scripts/python-env.sh could not set up the Python environment in $venv"
fi
# stop and status on a DIR without a cluster need no PostgreSQL programs.
if [ "$command" != start ] && [ ! -d "$data" ]; then
    if [ "$command" = status ]; then
        echo "stopped"
        exit 3
    fi
    say "no cluster in $dir: nothing to stop"
    exit 0
fi
install=$(find_install) || die "no PostgreSQL in $venv (pgserver's pginstall/bin/postgres): run scripts/python-env.sh"
bin=$install/bin

# Whom the server runs as.
if [ "$(id -u)" -ne 0 ]; then
    if [ -d "$data" ] && [ "$(stat -c %u "$data")" != "$(id -u)" ]; then
        die "$data belongs to user $(stat -c %U "$data"), not $(id -un): run this as that user or as root"
    fi
    as_server() { "$@"; }
else
    if [ -d "$data" ]; then
        server_user=$(stat -c %U "$data")
        [ "$server_user" != root ] && [ "$server_user" != UNKNOWN ] ||
            die "$data belongs to $server_user; PostgreSQL cannot run as root (remove $dir and start again)"
    else
        server_user=${VSEARCH_PG_USER:-vsearch-pg}
    fi
    as_server() { runuser -u "$server_user" -- "$@"; }
fi

# As pg_ctl status: 0 running, 3 not running, 4 no usable data directory; and 5 died but not reaped.
server_status() {
    local rc=0 pid
    as_server "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 || rc=$?
    # A killed server stays a zombie until PID 1 reaps it, and pg_ctl counts a zombie as running
    # (so would a new server, refusing to start). Some containers' PID 1 reaps only every few seconds.
    if [ $rc -eq 0 ]; then
        pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || pid=""
        if [ -n "$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
            rc=5
        fi
    fi
    return $rc
}

if [ "$command" = status ]; then
    if server_status; then
        port=$(recorded_port) || die "a server runs on $data but $dir/port is missing"
        echo "running $(url_for "$port")"
        exit 0
    fi
    echo "stopped"
    exit 3
fi

if [ "$command" = stop ]; then
    rc=0
    server_status || rc=$?
    if [ $rc -ne 0 ]; then
        say "not running ($data)"
        exit 0
    fi
    as_server "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2 ||
        die "pg_ctl stop -m fast failed for $data: see $log"
    exit 0
fi

# start. Two starts on one DIR at once (parallel tests) must not both run initdb or pg_ctl.
exec 9>>"$dir/.lock" || die "cannot write $dir/.lock"
flock -w 120 9 || die "another scripts/postgres.sh held $dir/.lock for 120 s"

if [ ! -f "$data/PG_VERSION" ]; then
    # Root hands DIR to the service user below, so DIR must not hold anyone else's files.
    for entry in "$dir"/* "$dir"/.[!.]*; do
        [ -e "$entry" ] || continue
        case ${entry##*/} in data | postgres.log | port | pg | .lock) ;; *)
            die "$dir already holds ${entry##*/}, which is not from this script: give an empty or new DIR" ;;
        esac
    done
    # A data/ without PG_VERSION is a failed initdb of ours; initdb wants it empty.
    rm -rf "$data"

    if [ "$(id -u)" -eq 0 ]; then
        # Servers started at once (test suites run in parallel) would all find the user missing and
        # all run useradd. Concurrent useradds of one name each write its entry, so the user's uid
        # changes under a server that already chowned its files or started initdb as the old one
        # ("could not look up effective user ID"). One lock for the whole machine makes the first
        # create the user and the others wait for it.
        exec 8>>/run/lock/vsearch-pg-user.lock || die "cannot write /run/lock/vsearch-pg-user.lock"
        flock -w 60 8 || die "another scripts/postgres.sh held /run/lock/vsearch-pg-user.lock for 60 s"
        if ! id -u "$server_user" >/dev/null 2>&1; then
            say "creating system user $server_user to run PostgreSQL (it refuses to run as root)"
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$server_user" || die "useradd $server_user failed"
        fi
        exec 8>&-
        # Every directory above DIR must let the service user through.
        parent=$dir
        while [ "$parent" != / ]; do
            parent=$(dirname "$parent")
            as_server test -x "$parent" ||
                die "user $server_user cannot enter $parent, so it cannot use $dir: choose a DIR under a directory others can enter (/tmp, say)"
        done
        # A clone under /root (mode 0700) keeps the virtual environment out of the service user's
        # reach: give it a copy, keeping the layout the programs' RPATH ($ORIGIN/../../../pgserver.libs) expects.
        if ! as_server test -x "$bin/postgres"; then
            say "user $server_user cannot reach $bin; copying the PostgreSQL programs into $dir/pg"
            mkdir -p "$dir/pg/pgserver"
            cp -a "$install" "$dir/pg/pgserver/pginstall"
            cp -a "$install/../../pgserver.libs" "$dir/pg/pgserver.libs" ||
                die "cannot copy $install/../../pgserver.libs into $dir/pg"
            install=$dir/pg/pgserver/pginstall
            bin=$install/bin
        fi
        chown -R "$server_user:" "$dir" || die "cannot chown $dir to $server_user"
    fi

    say "initdb $data"
    as_server touch "$log" || die "cannot write $log"
    # --no-sync saves flushing a thousand new files on every fresh test cluster; only an operating
    # system crash soon after could lose them, and the cluster holds test data.
    as_server "$bin/initdb" -D "$data" -U "$superuser" --auth=trust --encoding=UTF8 --locale=C \
        --no-sync --no-instructions >>"$log" 2>&1 || die "initdb failed for $data: see $log"
    # In the configuration rather than on pg_ctl's command line, so a hand-run pg_ctl start also
    # stays on loopback. No Unix socket: its path would be limited to 107 bytes under a deep DIR.
    cat >>"$data/postgresql.conf" <<'EOF'

# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
EOF
fi

port_is_free() {
    "$venv/bin/python" - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

pick_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' ||
        die "could not find a free port on 127.0.0.1"
}

rc=0
server_status || rc=$?
if [ $rc -eq 5 ]; then
    say "the last server on $data died (see $log); waiting for PID 1 to reap it"
    for _ in $(seq 60); do
        sleep 0.5
        rc=0
        server_status || rc=$?
        [ $rc -eq 5 ] || break
    done
    [ $rc -ne 5 ] || die "the last server on $data died and PID 1 has not reaped it for 30 s: see $log"
fi
if [ $rc -eq 0 ]; then
    port=$(recorded_port) || die "a server runs on $data but $dir/port is missing: run scripts/postgres.sh stop $dir, then start"
    say "already running"
elif [ $rc -ne 3 ]; then
    die "pg_ctl status cannot use $data (exit $rc)"
else
    port=$(recorded_port) || port=""
    # A port picked now can still be taken before the server binds it; then try another.
    started=""
    for attempt in 1 2 3; do
        if [ -z "$port" ]; then
            port=$(pick_port)
        elif ! port_is_free "$port"; then
            say "port $port (from $dir/port) is in use; picking another"
            port=$(pick_port)
        fi
        echo "$port" >"$dir/port"
        log_size=$(stat -c %s "$log" 2>/dev/null || echo 0)
        say "starting PostgreSQL on 127.0.0.1:$port, data in $data, log in $log"
        # 9>&-: the server would otherwise inherit the lock and hold it for as long as it runs.
        if as_server "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null 9>&-; then
            started=yes
            break
        fi
        if tail -c +$((log_size + 1)) "$log" | grep -q "Address already in use"; then
            say "port $port was taken before the server bound it (attempt $attempt)"
            port=""
            continue
        fi
        die "PostgreSQL did not start on 127.0.0.1:$port with data in $data: see $log"
    done
    [ -n "$started" ] || die "three free ports were each taken before PostgreSQL bound them: see $log"
fi

url=$(url_for "$port")
sql() {
    local db=$1
    shift
    "$bin/psql" -X -w -q -tA -v ON_ERROR_STOP=1 "postgres://$superuser@127.0.0.1:$port/$db" "$@"
}
if [ -z "$(sql postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
    sql postgres -c "CREATE DATABASE $database" || die "CREATE DATABASE $database failed on 127.0.0.1:$port: see $log"
fi
sql "$database" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS vector" ||
    die "CREATE EXTENSION vector failed in $database on 127.0.0.1:$port: see $log"
versions=$(sql "$database" -F ' ' -c \
    "SELECT current_setting('server_version'), extversion FROM pg_extension WHERE extname = 'vector'") ||
    die "cannot read the server's and pgvector's versions on 127.0.0.1:$port: see $log"
say "PostgreSQL ${versions% *}, pgvector ${versions#* }"
echo "$url"
