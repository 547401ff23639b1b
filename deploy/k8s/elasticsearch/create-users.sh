#!/bin/bash
# One-shot: the least-privilege Elasticsearch users slakit needs, through the security API
# (the same roles as the embedded stack's `stack up --secure`, slakit/stack/es_security.py).
#
#   slakit_gateway  cluster `monitor` (the gateway's /ready reads cluster health) and `read`
#                   on the corpus index (retrieval)
#   slakit_monitor  cluster `monitor`, `monitor` and `view_index_metadata` on every index
#                   (_stats, _resolve/index), and `read` on the corpus index (the exporter's
#                   canary search and freshness query)
#   slakit_load     only if ES_LOAD_PASSWORD is set: `slakit run scenario`'s es_search and
#                   es_bulk requests: cluster `monitor` (its reachability check), `read` on
#                   the corpus, `create_index` and `write` on slakit-bulk*
#
# Used by both deployments: the compose service `es-users` and the Kubernetes Job
# `slakit-es-users` (kustomize only reads files below deploy/k8s, so the file lives here).
# Idempotent: PUT replaces a role or user, so re-running it also rotates the passwords.
# Secrets never reach a command line: curl reads the elastic user's credentials from a
# file descriptor and the request body from standard input.
set -euo pipefail

: "${ES_URL:?ES_URL is not set (e.g. https://es01:9200)}"
: "${ES_CA_FILE:?ES_CA_FILE is not set (the CA certificate of the HTTP layer)}"
: "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is not set}"
: "${ES_GATEWAY_PASSWORD:?ES_GATEWAY_PASSWORD is not set}"
: "${ES_MONITOR_PASSWORD:?ES_MONITOR_PASSWORD is not set}"
ES_GATEWAY_USER=${ES_GATEWAY_USER:-slakit_gateway}
ES_MONITOR_USER=${ES_MONITOR_USER:-slakit_monitor}
ES_LOAD_USER=${ES_LOAD_USER:-slakit_load}
ES_LOAD_PASSWORD=${ES_LOAD_PASSWORD:-}
CORPUS_INDEX=${CORPUS_INDEX:-slakit-corpus}

# Passwords go into JSON and curl's config syntax here and into a URL in the gateway's
# entrypoint; restricting them to URL- and JSON-safe characters keeps all three correct.
for name in ELASTIC_PASSWORD ES_GATEWAY_PASSWORD ES_MONITOR_PASSWORD ES_LOAD_PASSWORD; do
  if [[ $name == ES_LOAD_PASSWORD && -z $ES_LOAD_PASSWORD ]]; then
    continue  # optional: no load user
  fi
  if [[ ! ${!name} =~ ^[A-Za-z0-9._~-]{16,}$ ]]; then
    echo "$name: use at least 16 characters of A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)" >&2
    exit 2
  fi
done

es() {  # METHOD PATH [BODY]
  local method=$1 path=$2 body=${3:-}
  curl --silent --show-error --fail --max-time 30 \
    --config <(printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD") \
    --cacert "$ES_CA_FILE" -X "$method" -H 'Content-Type: application/json' \
    --data-binary @- "$ES_URL$path" <<<"$body"
  echo
}

echo "waiting for $ES_URL to report yellow or green"
for attempt in $(seq 1 60); do
  if es GET "/_cluster/health?wait_for_status=yellow&timeout=10s" >/dev/null 2>&1; then
    break
  fi
  if [[ $attempt == 60 ]]; then
    echo "Elasticsearch at $ES_URL did not become available" >&2
    exit 1
  fi
  sleep 5
done

es PUT /_security/role/slakit_gateway \
  "{\"cluster\": [\"monitor\"], \"indices\": [{\"names\": [\"$CORPUS_INDEX\"], \"privileges\": [\"read\"]}]}"
es PUT /_security/role/slakit_monitor \
  "{\"cluster\": [\"monitor\"], \"indices\": [{\"names\": [\"*\"], \"privileges\": [\"monitor\", \"view_index_metadata\"]}, {\"names\": [\"$CORPUS_INDEX\"], \"privileges\": [\"read\"]}]}"
es PUT "/_security/user/$ES_GATEWAY_USER" \
  "{\"password\": \"$ES_GATEWAY_PASSWORD\", \"roles\": [\"slakit_gateway\"]}" >/dev/null
es PUT "/_security/user/$ES_MONITOR_USER" \
  "{\"password\": \"$ES_MONITOR_PASSWORD\", \"roles\": [\"slakit_monitor\"]}" >/dev/null
if [[ -n $ES_LOAD_PASSWORD ]]; then
  es PUT /_security/role/slakit_load \
    "{\"cluster\": [\"monitor\"], \"indices\": [{\"names\": [\"$CORPUS_INDEX\"], \"privileges\": [\"read\"]}, {\"names\": [\"slakit-bulk*\"], \"privileges\": [\"create_index\", \"write\"]}]}"
  es PUT "/_security/user/$ES_LOAD_USER" \
    "{\"password\": \"$ES_LOAD_PASSWORD\", \"roles\": [\"slakit_load\"]}" >/dev/null
  echo "user $ES_LOAD_USER is ready"
fi
echo "users $ES_GATEWAY_USER and $ES_MONITOR_USER are ready"
touch /tmp/users-created
