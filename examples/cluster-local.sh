#!/bin/sh
# A 3-node cluster on one machine: each node on its own loopback address, the same
# ports on each, as on three hosts. Stop with Ctrl-C (every node exits cleanly).
#
#   ./examples/cluster-local.sh
#   curl -s http://127.0.0.11:8080/health/cluster    # then .12 and .13
#
# On a real fleet run the same command on each host with its own addresses,
# CLUSTER_NODE_ID, and one CLUSTER_SECRET shared by all (see README "Cluster mode").
set -eu

export CLUSTER_ENABLED=true
export DISCOVERY_MODE=static
export CLUSTER_NODES=127.0.0.11:7000,127.0.0.12:7000,127.0.0.13:7000
export CLUSTER_SECRET="${CLUSTER_SECRET:-local-demo-secret}"
data="${CLUSTER_DATA_ROOT:-./data}"

for n in 11 12 13; do
  CLUSTER_NODE_ID="node-$n" \
  CLUSTER_BIND_ADDR="127.0.0.$n:7000" \
  CLUSTER_HEALTH_ADDR="127.0.0.$n:8080" \
  CLUSTER_DATA_DIR="$data/node-$n" \
    loadtest-supervisor &
done

trap 'kill -TERM $(jobs -p) 2>/dev/null' INT TERM
wait
