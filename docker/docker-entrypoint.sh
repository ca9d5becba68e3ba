#!/bin/bash
# Berth's container entrypoint, following the official Consul image's conventions so a compose
# file written for it works with only the image name changed:
#   - `agent …` (or flags alone) runs `berth agent -data-dir=/consul/data -config-dir=/consul/config …`;
#   - any other Berth subcommand (`members`, `kv`-less verbs, `template`, `version`) runs as is;
#   - CONSUL_LOCAL_CONFIG is written to /consul/config/local.json;
#   - CONSUL_BIND_INTERFACE / CONSUL_CLIENT_INTERFACE become -bind / -client with that
#     interface's first IPv4 address;
#   - the agent drops to the unprivileged `consul` user, joining the group of a mounted Docker
#     socket (it stays root only when that socket belongs to group root);
#   - `edge …` runs nginx and the agent side by side: Berth renders the upstream template into
#     nginx's conf.d and validates then reloads nginx on every change.
set -euo pipefail

CONSUL_DATA_DIR=${CONSUL_DATA_DIR:-/consul/data}
CONSUL_CONFIG_DIR=${CONSUL_CONFIG_DIR:-/consul/config}
DOCKER_SOCKET=${DOCKER_SOCKET:-/var/run/docker.sock}
BERTH_NGINX_CONF=${BERTH_NGINX_CONF:-/etc/berth/nginx/nginx.conf}
BERTH_EDGE_TEMPLATE=${BERTH_EDGE_TEMPLATE:-/etc/berth/templates/nginx-upstream.ctmpl}
BERTH_EDGE_OUTPUT=${BERTH_EDGE_OUTPUT:-/etc/nginx/conf.d/berth-upstream.conf}
BERTH_EDGE_WAIT=${BERTH_EDGE_WAIT:-100ms:500ms}

log() { echo "docker-entrypoint: $*" >&2; }

# The first IPv4 address of interface $1, or a clear failure naming the variable.
interface_ip() {
  local var=$1 name=$2 ip
  ip=$(ip -o -4 addr list "$name" 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
  if [ -z "$ip" ]; then
    log "$var=$name: no IPv4 address found on that interface"
    exit 64
  fi
  echo "$ip"
}

agent_args=()
if [ -n "${CONSUL_BIND_INTERFACE:-}" ]; then
  agent_args+=("-bind=$(interface_ip CONSUL_BIND_INTERFACE "$CONSUL_BIND_INTERFACE")")
fi
if [ -n "${CONSUL_CLIENT_INTERFACE:-}" ]; then
  agent_args+=("-client=$(interface_ip CONSUL_CLIENT_INTERFACE "$CONSUL_CLIENT_INTERFACE")")
fi

if [ -n "${CONSUL_LOCAL_CONFIG:-}" ]; then
  mkdir -p "$CONSUL_CONFIG_DIR"
  printf '%s\n' "$CONSUL_LOCAL_CONFIG" > "$CONSUL_CONFIG_DIR/local.json"
fi

# Flags alone mean agent flags.
if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
  set -- agent "$@"
fi

mode=other
case "$1" in
  consul|berth) shift; [ $# -eq 0 ] && set -- agent ;;
esac
case "$1" in
  agent) mode=agent; shift ;;
  edge) mode=edge; shift ;;
  validate|members|join|leave|force-leave|keygen|operator|template|version|help|-h|-help|--help)
    set -- berth "$@" ;;
esac

if [ "$mode" = other ]; then
  exec "$@"
fi

set -- berth agent "-data-dir=$CONSUL_DATA_DIR" "-config-dir=$CONSUL_CONFIG_DIR" ${agent_args[@]+"${agent_args[@]}"} "$@"

# Drop to the `consul` user unless asked not to (CONSUL_DISABLE_PERM_MGMT, as in Consul's image).
run_as=()
if [ "$(id -u)" = 0 ] && [ -z "${CONSUL_DISABLE_PERM_MGMT+x}" ]; then
  chown -R consul:consul "$CONSUL_DATA_DIR" 2>/dev/null || true
  chown consul:consul "$CONSUL_CONFIG_DIR" 2>/dev/null || true
  stay_root=
  if [ -S "$DOCKER_SOCKET" ]; then
    gid=$(stat -c %g "$DOCKER_SOCKET")
    if [ "$gid" = 0 ]; then
      log "$DOCKER_SOCKET belongs to group root: staying root so registration can read it"
      stay_root=1
    else
      group=$(getent group "$gid" | cut -d: -f1 || true)
      if [ -z "$group" ]; then
        group=docker-host
        groupadd --gid "$gid" "$group"
      fi
      usermod -a -G "$group" consul
    fi
  fi
  if [ -z "$stay_root" ]; then
    run_as=(setpriv --reuid=consul --regid=consul --init-groups --)
  fi
fi

if [ "$mode" = agent ]; then
  exec ${run_as[@]+"${run_as[@]}"} "$@"
fi

# Edge: nginx first (so the first reload has a master to signal), then the agent with the
# upstream template; whichever stops first stops the container.
if [ -n "${run_as[*]:-}" ]; then
  chown -R consul:consul /run/nginx /var/lib/nginx "$(dirname "$BERTH_EDGE_OUTPUT")"
fi
nginx_cmd=(nginx -c "$BERTH_NGINX_CONF")
${run_as[@]+"${run_as[@]}"} "${nginx_cmd[@]}" -t -q
${run_as[@]+"${run_as[@]}"} "${nginx_cmd[@]}" -g 'daemon off;' &
nginx_pid=$!
reload="${nginx_cmd[*]} -t -q && ${nginx_cmd[*]} -s reload"
${run_as[@]+"${run_as[@]}"} "$@" \
  -template "$BERTH_EDGE_TEMPLATE:$BERTH_EDGE_OUTPUT:$reload" \
  -wait "$BERTH_EDGE_WAIT" &
berth_pid=$!

stop() { kill -TERM "$berth_pid" "$nginx_pid" 2>/dev/null || true; }
trap stop TERM INT
trap 'kill -HUP "$berth_pid" 2>/dev/null || true' HUP
status=0
wait -n "$berth_pid" "$nginx_pid" || status=$?
# A trapped signal interrupts wait; wait again for both to finish.
stop
wait "$berth_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true
exit "$status"
