#!/usr/bin/env bash
# Smoke-check a running test node (start.sh first) with plain curl: the OpenSearch features that
# weft's OpenSearch sink relies on. Prints one line per check and 'N passed, N failed'.
# Exits non-zero if any check fails. Creates and deletes indices named weft-smoke-*.
set -uo pipefail

URL="${1:-${WEFT_OS_URL:-http://127.0.0.1:${WEFT_OS_PORT:-19200}}}"
command -v jq >/dev/null 2>&1 || { echo "smoke.sh needs jq (apt-get install jq)" >&2; exit 2; }

pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2" | head -c 600 && echo; }

# req METHOD PATH [BODY] [CONTENT-TYPE] -> sets $CODE and $BODY
req() {
  local out
  if [ $# -ge 3 ]; then
    out="$(curl -sS -m 30 -X "$1" "$URL$2" -H "Content-Type: ${4:-application/json}" --data-binary "$3" -w '\n%{http_code}')"
  else
    out="$(curl -sS -m 30 -X "$1" "$URL$2" -w '\n%{http_code}')"
  fi
  CODE="${out##*$'\n'}"
  BODY="${out%$'\n'*}"
}
check() { # name jq-expression (must be true on $BODY)
  if [ "${CODE:-0}" -lt 300 ] && echo "$BODY" | jq -e "$2" >/dev/null 2>&1; then ok "$1"; else bad "$1" "HTTP $CODE $BODY"; fi
}

# clean leftovers from an earlier run
curl -sS -m 30 -X DELETE "$URL/weft-smoke-*?expand_wildcards=all" >/dev/null 2>&1 || true
curl -sS -m 30 -X DELETE "$URL/_index_template/weft-smoke-tpl" >/dev/null 2>&1 || true

# 1. GET / shows the version
req GET /
check "GET / (version $(echo "$BODY" | jq -r .version.number 2>/dev/null))" '.version.number | test("^[0-9]+\\.")'

# 2. create an index with date_nanos + nested mappings
req PUT /weft-smoke-docs '{
  "settings": {"number_of_shards": 1, "number_of_replicas": 0},
  "mappings": {"properties": {
    "@timestamp": {"type": "date_nanos"},
    "message":    {"type": "text"},
    "service":    {"type": "keyword"},
    "attributes": {"type": "nested", "properties": {"key": {"type": "keyword"}, "value": {"type": "keyword"}}}
  }}}'
check "create index with date_nanos + nested mapping" '.acknowledged == true'

# 3. index a doc, search it back
req PUT '/weft-smoke-docs/_doc/1?refresh=true' '{"@timestamp":"2024-05-01T12:00:00.123456789Z","message":"hello weft","service":"api",
  "attributes":[{"key":"http.method","value":"GET"},{"key":"http.status","value":"200"}]}'
check "index a doc" '.result == "created"'
req GET '/weft-smoke-docs/_search?q=message:hello'
check "search it back" '.hits.total.value == 1 and .hits.hits[0]._source.service == "api"'

# 4. date_nanos keeps nanosecond precision (range + sort value)
req POST /weft-smoke-docs/_search '{"query":{"range":{"@timestamp":{"gt":"2024-05-01T12:00:00.123456788Z","lt":"2024-05-01T12:00:00.123456790Z"}}},
  "docvalue_fields":[{"field":"@timestamp","format":"strict_date_optional_time_nanos"}]}'
check "date_nanos nanosecond range + docvalue" '.hits.total.value == 1 and .hits.hits[0].fields["@timestamp"][0] == "2024-05-01T12:00:00.123456789Z"'
req GET /weft-smoke-docs/_mapping
check "date_nanos / nested in GET _mapping" '.["weft-smoke-docs"].mappings.properties["@timestamp"].type == "date_nanos" and .["weft-smoke-docs"].mappings.properties.attributes.type == "nested"'

# 5. nested query matches within one nested object only
req POST /weft-smoke-docs/_search '{"query":{"nested":{"path":"attributes","query":{"bool":{"must":[
  {"term":{"attributes.key":"http.method"}},{"term":{"attributes.value":"GET"}}]}}}}}'
check "nested query (same object)" '.hits.total.value == 1'
req POST /weft-smoke-docs/_search '{"query":{"nested":{"path":"attributes","query":{"bool":{"must":[
  {"term":{"attributes.key":"http.method"}},{"term":{"attributes.value":"200"}}]}}}}}'
check "nested query (cross-object does not match)" '.hits.total.value == 0'

# 6. composable index template applies to a new index
req PUT /_index_template/weft-smoke-tpl '{"index_patterns":["weft-smoke-tpl-*"],"priority":500,
  "template":{"settings":{"number_of_shards":1,"number_of_replicas":0},
  "mappings":{"properties":{"@timestamp":{"type":"date_nanos"},"body":{"type":"text"}}}}}'
check "PUT _index_template" '.acknowledged == true'
req PUT '/weft-smoke-tpl-a/_doc/1?refresh=true' '{"@timestamp":"2024-05-01T00:00:00.000000001Z","body":"x"}'
req GET /weft-smoke-tpl-a/_mapping
check "template mapping applied on auto-create" '.["weft-smoke-tpl-a"].mappings.properties["@timestamp"].type == "date_nanos"'

# 7. _bulk (NDJSON)
bulk=""
for i in 1 2 3 4 5; do
  bulk+='{"index":{"_index":"weft-smoke-docs"}}'$'\n'
  bulk+='{"@timestamp":"2024-05-01T12:00:0'$i'.00000000'$i'Z","message":"bulk '$i'","service":"bulk"}'$'\n'
done
bulk+='{"create":{"_index":"weft-smoke-docs","_id":"1"}}'$'\n''{"message":"dup"}'$'\n'
req POST '/_bulk?refresh=true' "$bulk" application/x-ndjson
check "_bulk: 5 indexed, 1 per-item conflict reported" '.errors == true and ([.items[] | select(.index.status == 201)] | length) == 5 and (.items[5].create.status == 409)'
req GET '/weft-smoke-docs/_count?q=service:bulk'
check "_bulk docs searchable" '.count == 5'

# 8. write alias + rollover
req PUT /weft-smoke-roll-000001 '{"settings":{"number_of_shards":1,"number_of_replicas":0},
  "aliases":{"weft-smoke-roll":{"is_write_index":true}}}'
check "create index with write alias" '.acknowledged == true'
req POST '/weft-smoke-roll/_doc?refresh=true' '{"message":"before rollover"}'
check "write through alias" '.result == "created" and ._index == "weft-smoke-roll-000001"'
req POST /weft-smoke-roll/_rollover '{"conditions":{"max_docs":1}}'
check "POST alias/_rollover" '.rolled_over == true and .new_index == "weft-smoke-roll-000002"'
req POST '/weft-smoke-roll/_doc?refresh=true' '{"message":"after rollover"}'
check "alias writes go to the new index" '._index == "weft-smoke-roll-000002"'

# 9. ISM plugin (informational: the sink's ISM policy option needs it)
req GET /_plugins/_ism/policies
if [ "$CODE" = 200 ]; then echo "info ISM (_plugins/_ism): available"; else echo "info ISM (_plugins/_ism): NOT available (HTTP $CODE)"; fi

# cleanup
curl -sS -m 30 -X DELETE "$URL/weft-smoke-*?expand_wildcards=all" >/dev/null 2>&1 || true
curl -sS -m 30 -X DELETE "$URL/_index_template/weft-smoke-tpl" >/dev/null 2>&1 || true

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
