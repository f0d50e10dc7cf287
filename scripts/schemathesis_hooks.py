"""schemathesis hooks for scripts/fuzz_api.sh (loaded through SCHEMATHESIS_HOOKS).

- `no_5xx_but_503_with_retry_after`: the server's promise: no 5xx at all, except 503 with a
  Retry-After header (a dependency down, a model not installed, a request over its time).
- A serializer for `application/x-ndjson` (POST /api/jobs/batch takes JOBS.jsonl): one JSON
  document per line.
"""

import json

import schemathesis


@schemathesis.check
def no_5xx_but_503_with_retry_after(response, case):
    status = response.status_code
    if status < 500:
        return None
    if status == 503 and response.headers.get("retry-after"):
        return None
    raise AssertionError(f"{status} without Retry-After: {response.text[:300]}")


@schemathesis.serializer("application/x-ndjson")
class NdjsonSerializer:
    def _body(self, value):
        lines = value if isinstance(value, list) else [value]
        return "\n".join(json.dumps(line) for line in lines).encode()

    def as_requests(self, context, value):
        return {"data": self._body(value)}

    def as_werkzeug(self, context, value):
        return {"data": self._body(value)}


@schemathesis.hook
def filter_headers(context, headers):
    """Header values a conforming HTTP client can send: visible ASCII, spaces and tabs inside.
    (Others never reach the application: hyper refuses them at the connection with a bare
    400, which no OpenAPI document can describe.)"""
    if not headers:
        return True
    return all(
        isinstance(v, str) and v == v.strip() and all(c == "\t" or 32 <= ord(c) < 127 for c in v)
        for v in headers.values()
    )
