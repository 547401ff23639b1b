#!/bin/bash
# One-shot: a private CA and one certificate per Elasticsearch node, in the es-certs volume.
#
# A multi-node cluster with security on must encrypt its transport layer, and the HTTP layer
# carries passwords, so both use these certificates. Run by the `es-certs` service before the
# nodes start; idempotent (an existing CA is kept, so restarts do not re-key the cluster).
# Rotation: stop the stack, delete the volume (`docker volume rm slakit_es-certs`), start.
set -euo pipefail

CERTS=/certs
NODES=(es01 es02 es03)
cd /usr/share/elasticsearch

if [[ -s $CERTS/${NODES[-1]}/${NODES[-1]}.crt ]]; then
  echo "certificates already present in $CERTS"
  exit 0
fi

command -v unzip >/dev/null || { echo "unzip is missing from this image" >&2; exit 1; }

# The CA key only exists long enough to sign the node certificates: it is not left in the
# volume, which the gateway and the exporter mount to read ca.crt.
work=$(mktemp -d)
bin/elasticsearch-certutil ca --silent --pem --out "$work/ca.zip"
unzip -q "$work/ca.zip" -d "$work"

{
  echo "instances:"
  for node in "${NODES[@]}"; do
    # The node's service name is what every client in the compose network dials; localhost
    # is for the health check inside the node's own container.
    printf '  - name: %s\n    dns: [%s, localhost]\n    ip: [127.0.0.1]\n' "$node" "$node"
  done
} > "$work/instances.yml"

bin/elasticsearch-certutil cert --silent --pem --in "$work/instances.yml" \
  --ca-cert "$work/ca/ca.crt" --ca-key "$work/ca/ca.key" --out "$work/certs.zip"
unzip -q "$work/certs.zip" -d "$CERTS"
install -D -m 644 "$work/ca/ca.crt" "$CERTS/ca/ca.crt"
rm -rf "$work"

# Elasticsearch runs as uid 1000, gid 0. Node keys are readable by it alone; the CA
# certificate by everyone (the slakit containers run as another uid).
chown -R 1000:0 "$CERTS"
chmod 755 "$CERTS" "$CERTS/ca"
for node in "${NODES[@]}"; do
  chmod 750 "$CERTS/$node"
  chmod 640 "$CERTS/$node/$node.key" "$CERTS/$node/$node.crt"
done
echo "wrote a CA and certificates for ${NODES[*]} to $CERTS"
