#!/usr/bin/env bash
# A network namespace of its own for `pudo serve`, reaching the cluster of deploy/ha/cluster.sh
# over a veth pair, and a firewall rule that cuts it off from the database: the network-cut half
# of the fault test (tests/api/ha; docs/operations.md, "The fault test").
#
#   deploy/ha/netns.sh up       # creates the namespace; prints the multi-host DATABASE_URL that
#                               # reaches the cluster from inside it (last line on stdout)
#   deploy/ha/netns.sh cut      # DROPs every packet between the namespace and the data nodes
#   deploy/ha/netns.sh restore  # removes that rule
#   deploy/ha/netns.sh down     # removes the namespace, the veth pair and the NAT rules
#   ip netns exec pudoha target/debug/pudo serve    # a process inside it
#
# Settings (environment):
#   HA_PORT=26432   as for cluster.sh: the data nodes listen on HA_PORT + 1 and HA_PORT + 2
#   HA_NETNS=pudoha the namespace's name; its veth ends are ${HA_NETNS}0 (this side) and
#                   ${HA_NETNS}1 (inside), addresses HA_NET.1 and HA_NET.2
#   HA_NET=10.231.0 a /30 of private addresses that nothing else on the machine uses
#
# The cluster's nodes listen on 127.0.0.1 only and trust loopback only (cluster.sh). From the
# namespace, pudo connects to HA_NET.1:PORT; NAT rules in the main namespace (an nftables table
# named after the namespace) send those connections to 127.0.0.1:PORT with 127.0.0.1 as their
# source, so the nodes see what they expect and nothing else is opened to the network.
#
# The cut is DROP, not REJECT: packets vanish as they do when a switch dies or a cable is pulled,
# so pudo sees no error, only silence, and must find out by its own timeouts (libpq's
# connect_timeout, tcp_user_timeout and keepalives: src/db/mod.rs). Only traffic between the
# namespace and the data nodes is dropped; HTTP to pudo and webhooks from it still pass, and the
# cluster itself (monitor, replication) is untouched, so no failover happens.
#
# Needs root (namespaces, nftables); installs nftables with apt-get if `nft` is missing.
set -euo pipefail

die() { echo "netns.sh: $*" >&2; exit 1; }
say() { echo "netns.sh: $*" >&2; }

CMD=${1:-}
case "$CMD" in up|down|cut|restore) ;; *) die "usage: $0 up|down|cut|restore (got '${CMD}')" ;; esac
HA_PORT=${HA_PORT:-26432}
[[ "$HA_PORT" =~ ^[0-9]+$ ]] || die "HA_PORT must be a number, not '$HA_PORT'"
NS=${HA_NETNS:-pudoha}
[[ "$NS" =~ ^[a-z][a-z0-9]{0,9}$ ]] || die "HA_NETNS must be a short lower-case name (at most 10 characters), not '$NS'"
NET=${HA_NET:-10.231.0}
[[ "$NET" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "HA_NET must be the first three numbers of an IPv4 address, not '$NET'"
HOST=$NET.1 INSIDE=$NET.2
P1=$((HA_PORT + 1)) P2=$((HA_PORT + 2))
URL="postgres://postgres@$HOST:$P1,$HOST:$P2/${HA_DB:-pudo}?target_session_attrs=read-write"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, nftables)"

in_ns() { ip netns exec "$NS" "$@"; }
exists() { ip netns list | grep -qw "^$NS"; }

up() {
  if ! command -v nft >/dev/null; then
    say "installing nftables with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
      --no-install-recommends nftables >&2 || {
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends nftables >&2
    }
  fi
  if ! exists; then
    ip netns add "$NS"
    ip link add "${NS}0" type veth peer name "${NS}1"
    ip link set "${NS}1" netns "$NS"
    ip addr add "$HOST/30" dev "${NS}0"
    ip link set "${NS}0" up
    in_ns ip addr add "$INSIDE/30" dev "${NS}1"
    in_ns ip link set "${NS}1" up
    in_ns ip link set lo up
    # Packets from the veth may be sent on to 127.0.0.1 (the DNAT below).
    sysctl -q -w "net.ipv4.conf.${NS}0.route_localnet=1"
  fi
  # A cut left by an interrupted test goes; the NAT rules are written afresh.
  in_ns nft delete table inet cut 2>/dev/null || true
  nft delete table ip "$NS" 2>/dev/null || true
  nft -f - <<EOF
table ip $NS {
  chain pre {
    type nat hook prerouting priority dstnat;
    iifname "${NS}0" ip daddr $HOST tcp dport { $P1, $P2 } dnat to 127.0.0.1
  }
  chain in {
    type nat hook input priority 100;
    ip saddr $INSIDE ip daddr 127.0.0.1 tcp dport { $P1, $P2 } snat to 127.0.0.1
  }
}
EOF
  say "namespace $NS: inside $INSIDE, the cluster at $HOST:$P1 and $HOST:$P2"
  echo "$URL"
}

cut() {
  exists || die "no namespace $NS; run $0 up"
  in_ns nft delete table inet cut 2>/dev/null || true
  in_ns nft -f - <<EOF
table inet cut {
  chain out {
    type filter hook output priority 0;
    ip daddr $HOST tcp dport { $P1, $P2 } drop
  }
  chain in {
    type filter hook input priority 0;
    ip saddr $HOST tcp sport { $P1, $P2 } drop
  }
}
EOF
  say "cut: packets between $NS and $HOST:{$P1,$P2} are dropped"
}

restore() {
  exists || die "no namespace $NS; run $0 up"
  in_ns nft delete table inet cut 2>/dev/null || true
  say "restored"
}

down() {
  nft delete table ip "$NS" 2>/dev/null || true
  ip link del "${NS}0" 2>/dev/null || true
  if exists; then ip netns del "$NS"; fi
  say "namespace $NS removed"
}

"$CMD"
