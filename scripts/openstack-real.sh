#!/usr/bin/env bash
# A real OpenStack control plane on loopback for the `real_openstack` tests: Keystone 30.0.0,
# Nova 34.0.0 (api, conductor, scheduler, compute with the fake driver), Placement 16.0.0 and
# Glance 33.0.0 from PyPI in their own virtualenv, on the MariaDB and RabbitMQ of this machine,
# plus a read-only Neutron stand-in (scripts/openstack-real/neutron_standin.py). No volume service.
#
#   scripts/openstack-real.sh start    install if needed, start fresh (new databases), wait until a
#                                      server can be booted; prints GLASSPANE_OPENSTACK_AUTH_URL=...
#   scripts/openstack-real.sh stop     stop what start started (pid files under var/openstack/run)
#   scripts/openstack-real.sh status   exit 0 when Keystone and Nova answer and compute is up, 3 if not
#   scripts/openstack-real.sh env      print GLASSPANE_OPENSTACK_AUTH_URL=...
#
# Admin: user admin, password admin, project admin, domain Default, region RegionOne. Flavors
# m1.tiny/m1.small/m1.medium, image tiny-raw. State (configs, logs, pids, image files) lives under
# var/openstack/; the virtualenv under $GLASSPANE_OPENSTACK_HOME (default /var/tmp/glasspane-openstack)
# keyed by the pinned versions, so a clean clone reuses it. Databases gp_os_* in MariaDB
# (GLASSPANE_MARIADB_HOST/PORT/USER, default root@127.0.0.1:3306), RabbitMQ vhost gp_openstack
# (guest/guest at 127.0.0.1:5672). Ports: 5000, 8774, 8778, 9292, 9696 (GLASSPANE_OS_*_PORT).
#
# Facts this relies on: the services' WSGI modules parse sys.argv with oslo.config, so they run
# through wsgi.py, which hides gunicorn's argv; several gunicorns side by side need
# --no-control-socket; nova-conductor needs a real database (SQLite locks); the fake driver keeps
# its compute node id across restarts only as fake.FakeDriverWithoutFakeNodes;
# sync_power_state_interval=-1 keeps servers ACTIVE across restarts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/openstack-real"
STATE="$ROOT/var/openstack"
CONF="$STATE/etc"
LOGS="$STATE/log"
RUN="$STATE/run"
HOME_DIR="${GLASSPANE_OPENSTACK_HOME:-/var/tmp/glasspane-openstack}"
PACKAGES="keystone==30.0.0 nova==34.0.0 openstack-placement==16.0.0 glance==33.0.0"
CONSTRAINTS="$HERE/constraints.txt"
VENV="$HOME_DIR/venv-$(cat "$CONSTRAINTS" <(echo "$PACKAGES") | sha1sum | cut -c1-12)"
PY="$VENV/bin/python"
HOST=127.0.0.1
KEYSTONE_PORT="${GLASSPANE_OS_KEYSTONE_PORT:-5000}"
NOVA_PORT="${GLASSPANE_OS_NOVA_PORT:-8774}"
PLACEMENT_PORT="${GLASSPANE_OS_PLACEMENT_PORT:-8778}"
GLANCE_PORT="${GLASSPANE_OS_GLANCE_PORT:-9292}"
NEUTRON_PORT="${GLASSPANE_OS_NEUTRON_PORT:-9696}"
DB_HOST="${GLASSPANE_MARIADB_HOST:-127.0.0.1}"
DB_PORT="${GLASSPANE_MARIADB_PORT:-3306}"
DB_USER="${GLASSPANE_MARIADB_USER:-root}"
DB="mysql+pymysql://$DB_USER@$DB_HOST:$DB_PORT"
VHOST=gp_openstack
RABBIT="rabbit://guest:guest@127.0.0.1:5672/$VHOST"
AUTH_URL="http://$HOST:$KEYSTONE_PORT/v3"
WAIT_SECONDS="${GLASSPANE_OPENSTACK_WAIT:-300}"
DATABASES="gp_os_keystone gp_os_placement gp_os_glance gp_os_nova_api gp_os_nova gp_os_nova_cell0"
SERVICES="neutron keystone placement glance nova-api nova-conductor nova-scheduler nova-compute"

say() { echo "openstack-real: $*" >&2; }
die() { say "$*"; exit 1; }

export OS_AUTH_URL="$AUTH_URL" GP_OS_COMPUTE_URL="http://$HOST:$NOVA_PORT/v2.1"
export GP_OS_PLACEMENT_URL="http://$HOST:$PLACEMENT_PORT" GP_OS_IMAGE_URL="http://$HOST:$GLANCE_PORT"
export GP_OS_NETWORK_URL="http://$HOST:$NEUTRON_PORT"

# -- installing ------------------------------------------------------------------------------------

ensure_venv() {
    [ -f "$VENV/.installed" ] && return 0
    say "installing $PACKAGES into $VENV (first time only: a few minutes)"
    mkdir -p "$HOME_DIR"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install -q --disable-pip-version-check -c "$CONSTRAINTS" $PACKAGES PyMySQL gunicorn >&2
    touch "$VENV/.installed"
}

sql() { mysql -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -e "$1"; }

ensure_backends() {
    command -v mysql >/dev/null || die "no mysql client: apt-get install mariadb-server mariadb-client"
    sql "SELECT 1" >/dev/null 2>&1 || die "MariaDB does not answer at $DB_HOST:$DB_PORT as $DB_USER"
    (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || die "RabbitMQ does not answer at 127.0.0.1:5672"
    if command -v rabbitmqctl >/dev/null; then
        rabbitmqctl -q add_vhost "$VHOST" >/dev/null 2>&1 || true
        rabbitmqctl -q set_permissions -p "$VHOST" guest ".*" ".*" ".*" >/dev/null 2>&1 \
            || die "cannot grant guest the RabbitMQ vhost $VHOST (rabbitmqctl)"
    else
        die "no rabbitmqctl to create the vhost $VHOST"
    fi
}

fresh_databases() {
    for name in $DATABASES; do
        sql "DROP DATABASE IF EXISTS $name; CREATE DATABASE $name CHARACTER SET utf8mb4;"
    done
}

# -- configuration ---------------------------------------------------------------------------------

authtoken() {
    cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://$HOST:$KEYSTONE_PORT/
auth_url = http://$HOST:$KEYSTONE_PORT/
auth_type = password
username = admin
password = admin
project_name = admin
user_domain_name = Default
project_domain_name = Default
service_token_roles_required = true
service_token_roles = admin
http_connect_timeout = 10
EOF
}

service_auth() {  # [section] for a service calling another with the admin account
    cat <<EOF
[$1]
auth_type = password
auth_url = http://$HOST:$KEYSTONE_PORT/v3
username = admin
password = admin
project_name = admin
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne
timeout = 30
EOF
}

write_configs() {
    mkdir -p "$CONF"/{keystone,nova,placement,glance} "$LOGS" "$RUN" "$STATE"/keystone/{fernet-keys,credential-keys} \
        "$STATE"/nova/{instances,locks} "$STATE"/glance/{images,staging,tasks}
    cat >"$CONF/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOGS/keystone-app.log
[database]
connection = $DB/gp_os_keystone
[token]
provider = fernet
expiration = 86400
[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys
[fernet_receipts]
key_repository = $STATE/keystone/fernet-keys
[credential]
key_repository = $STATE/keystone/credential-keys
EOF
    cat >"$CONF/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $LOGS/placement-app.log
[placement_database]
connection = $DB/gp_os_placement
[api]
auth_strategy = keystone
$(authtoken)
EOF
    cp "$VENV/etc/glance/glance-api-paste.ini" "$CONF/glance/" 2>/dev/null \
        || cp "$(find "$VENV" -name glance-api-paste.ini | head -1)" "$CONF/glance/"
    cat >"$CONF/glance/glance-api.conf" <<EOF
[DEFAULT]
log_file = $LOGS/glance-app.log
enabled_backends = fs:file
[database]
connection = $DB/gp_os_glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $STATE/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks
[paste_deploy]
flavor = keystone
config_file = $CONF/glance/glance-api-paste.ini
$(authtoken)
EOF
    cp "$VENV/etc/nova/api-paste.ini" "$CONF/nova/" 2>/dev/null \
        || cp "$(find "$VENV" -path '*nova*' -name api-paste.ini | head -1)" "$CONF/nova/"
    cat >"$CONF/nova/nova.conf" <<EOF
[DEFAULT]
log_dir = $LOGS
transport_url = $RABBIT
compute_driver = fake.FakeDriverWithoutFakeNodes
host = glasspane-fake-compute
my_ip = $HOST
state_path = $STATE/nova
instances_path = $STATE/nova/instances
sync_power_state_interval = -1
allow_resize_to_same_host = true
heal_instance_info_cache_interval = -1
instance_usage_audit = false
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $CONF/nova/api-paste.ini
[api_database]
connection = $DB/gp_os_nova_api
[database]
connection = $DB/gp_os_nova
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[oslo_concurrency]
lock_path = $STATE/nova/locks
[oslo_messaging_notifications]
driver = noop
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
[glance]
timeout = 30
$(authtoken)
$(service_auth placement)
$(service_auth neutron)
EOF
}

# -- processes -------------------------------------------------------------------------------------

pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

launch() {  # name, command...: in its own session, output to log/NAME.log, pid in run/NAME.pid
    local name="$1"; shift
    pid_alive "$name" && return 0
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

wsgi() {  # name, port, module:attribute, environment...
    local name="$1" port="$2" app="$3"; shift 3
    launch "$name" env GP_OS_WSGI="$app" "$@" "$VENV/bin/gunicorn" --no-control-socket \
        --chdir "$HERE" --bind "$HOST:$port" --workers 1 --threads 4 --worker-class gthread \
        --timeout 120 --graceful-timeout 5 --keep-alive 0 --access-logfile - wsgi:application
}

wait_http() {  # name, url: until it answers anything below 500
    local name="$1" url="$2" deadline=$((SECONDS + WAIT_SECONDS)) code
    while [ $SECONDS -lt $deadline ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
        case "$code" in 2??|3??|401|404) return 0 ;; esac
        pid_alive "$name" || die "$name exited; see $LOGS/$name.log"
        sleep 1
    done
    die "$name did not answer at $url within ${WAIT_SECONDS}s; see $LOGS/$name.log"
}

manage() { "$VENV/bin/$1" "${@:2}" >>"$LOGS/manage.log" 2>&1 || die "$* failed; see $LOGS/manage.log"; }

compute_up() {  # the fake compute node is registered and its service is up
    "$VENV/bin/nova-manage" --config-file "$CONF/nova/nova.conf" cell_v2 discover_hosts >>"$LOGS/manage.log" 2>&1 \
        && "$PY" - <<'EOF'
import os, sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
auth = v3.Password(auth_url=os.environ["OS_AUTH_URL"], username="admin", password="admin", project_name="admin",
                   user_domain_id="default", project_domain_id="default")
s = session.Session(auth=auth, timeout=10)
f = {"service_type": "compute", "interface": "public"}
services = s.get("/os-services", endpoint_filter=f, params={"binary": "nova-compute"}).json()["services"]
hypervisors = s.get("/os-hypervisors", endpoint_filter=f).json()["hypervisors"]
sys.exit(0 if any(x["state"] == "up" for x in services) and hypervisors else 1)
EOF
}

start() {
    if status >/dev/null 2>&1; then
        say "already running"
        echo "GLASSPANE_OPENSTACK_AUTH_URL=$AUTH_URL"
        return 0
    fi
    stop >/dev/null 2>&1 || true
    local began=$SECONDS
    ensure_venv
    ensure_backends
    for port in $KEYSTONE_PORT $NOVA_PORT $PLACEMENT_PORT $GLANCE_PORT $NEUTRON_PORT; do
        if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then die "port $HOST:$port is taken by another program"; fi
    done
    rm -rf "$STATE"
    write_configs
    fresh_databases
    # the databases right after their syncs, bootstrap and catalog, kept beside the virtualenv:
    # a later start restores them in seconds instead of minutes of migrations
    local dump
    dump="$HOME_DIR/databases-$(echo "$VENV $DB $RABBIT $AUTH_URL $GP_OS_COMPUTE_URL $GP_OS_PLACEMENT_URL \
        $GP_OS_IMAGE_URL $GP_OS_NETWORK_URL" | cat - "$0" | sha1sum | cut -c1-12).sql"
    if [ -f "$dump" ]; then
        mysql -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" <"$dump" || die "cannot restore $dump"
    fi
    say "databases and configuration ready ($((SECONDS - began))s)"

    launch neutron python3 "$HERE/neutron_standin.py" --host "$HOST" --port "$NEUTRON_PORT"
    local kconf="--config-file $CONF/keystone/keystone.conf"
    manage keystone-manage $kconf fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    manage keystone-manage $kconf credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    [ -f "$dump" ] || manage keystone-manage $kconf db_sync
    [ -f "$dump" ] || manage keystone-manage $kconf bootstrap --bootstrap-password admin --bootstrap-username admin \
        --bootstrap-project-name admin --bootstrap-role-name admin --bootstrap-service-name keystone \
        --bootstrap-region-id RegionOne --bootstrap-admin-url "$AUTH_URL" --bootstrap-public-url "$AUTH_URL" \
        --bootstrap-internal-url "$AUTH_URL"
    wsgi keystone "$KEYSTONE_PORT" keystone.wsgi.api:application \
        OS_KEYSTONE_CONFIG_FILES="$CONF/keystone/keystone.conf"
    local nconf="--config-file $CONF/nova/nova.conf"
    if [ ! -f "$dump" ]; then
        wait_http keystone "$AUTH_URL"
        "$PY" "$HERE/setup_cloud.py" catalog >>"$LOGS/manage.log" 2>&1 || die "catalog setup failed; see $LOGS/manage.log"
        say "keystone up with its catalog ($((SECONDS - began))s)"
        manage placement-manage --config-file "$CONF/placement/placement.conf" db sync
        manage glance-manage --config-file "$CONF/glance/glance-api.conf" db_sync
        manage nova-manage $nconf api_db sync
        manage nova-manage $nconf cell_v2 map_cell0 --database_connection "$DB/gp_os_nova_cell0"
        manage nova-manage $nconf cell_v2 create_cell --name cell1 --verbose
        manage nova-manage $nconf db sync
        mkdir -p "$HOME_DIR"
        # shellcheck disable=SC2086
        mysqldump -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" --databases $DATABASES >"$dump.tmp" && mv "$dump.tmp" "$dump"
        say "databases synced ($((SECONDS - began))s)"
    fi
    wsgi placement "$PLACEMENT_PORT" placement.wsgi.api:application OS_PLACEMENT_CONFIG_DIR="$CONF/placement"
    wsgi glance "$GLANCE_PORT" glance.wsgi.api:application OS_GLANCE_CONFIG_DIR="$CONF/glance"
    wsgi nova-api "$NOVA_PORT" nova.wsgi.osapi_compute:application OS_NOVA_CONFIG_DIR="$CONF/nova"
    launch nova-conductor "$VENV/bin/nova-conductor" $nconf
    launch nova-scheduler "$VENV/bin/nova-scheduler" $nconf
    launch nova-compute "$VENV/bin/nova-compute" $nconf
    wait_http keystone "$AUTH_URL"
    wait_http placement "http://$HOST:$PLACEMENT_PORT/"
    wait_http glance "http://$HOST:$GLANCE_PORT/"
    wait_http nova-api "http://$HOST:$NOVA_PORT/"
    "$PY" "$HERE/setup_cloud.py" content >>"$LOGS/manage.log" 2>&1 || die "flavors/image setup failed; see $LOGS/manage.log"
    local deadline=$((SECONDS + WAIT_SECONDS))
    until compute_up; do
        for name in nova-conductor nova-scheduler nova-compute; do
            pid_alive "$name" || die "$name exited; see $LOGS/$name.log"
        done
        [ $SECONDS -lt $deadline ] || die "the fake compute node did not register; see $LOGS/nova-compute.log"
        sleep 2
    done
    say "up in $((SECONDS - began))s"
    echo "GLASSPANE_OPENSTACK_AUTH_URL=$AUTH_URL"
}

stop() {
    local name pid stopped=0
    for name in $SERVICES; do
        [ -f "$RUN/$name.pid" ] || continue
        pid="$(cat "$RUN/$name.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            stopped=$((stopped + 1))
        fi
    done
    for name in $SERVICES; do
        [ -f "$RUN/$name.pid" ] || continue
        pid="$(cat "$RUN/$name.pid")"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        rm -f "$RUN/$name.pid"
    done
    say "stopped $stopped process(es)"
}

status() {
    local name
    for name in $SERVICES; do
        pid_alive "$name" || { echo "$name: not running"; return 3; }
    done
    curl -fsS --max-time 5 "$AUTH_URL" >/dev/null || { echo "keystone: no answer"; return 3; }
    [ -x "$PY" ] && compute_up || { echo "nova: compute not up"; return 3; }
    echo "running: $AUTH_URL"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "GLASSPANE_OPENSTACK_AUTH_URL=$AUTH_URL" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
