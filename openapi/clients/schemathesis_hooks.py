"""Schemathesis hooks for the client checks (openapi/clients/run loads them via SCHEMATHESIS_HOOKS).

The built-in `positive_data_acceptance` ("valid request rejected") is replaced by this version,
which does not judge two kinds of request whose validity the document cannot state:

- a request carrying an OData expression parameter. `$filter`, `$orderby`, `$select`, `$apply`,
  `$skiptoken` and `$deltatoken` are free text to the document: it can say they are strings or
  lists of names, not which strings form a valid OData expression (or a valid combination, such as
  `$apply` with `$count`) or a token idtrail issued, so "valid" values such as `$filter=0` must be
  refused with 400. The parser is not loosened to make the fuzzer pass.
- an export that also asks for `$count` (`$format` with `$count=true`): an export has no count
  to put it in (the NDJSON trailer carries the rows), and the document cannot state that two
  options exclude each other; the 400 names both.
- a script request: `/idtrail/script`'s `request` is a whole list request (path and OData query
  options), checked by the list's own parser, so it is free text to the document for the same
  reason.
- an ingest batch. Its records are Graph's entity documents, whose schema is Graph's CSDL; what
  ingest adds (GUID ids, a date no later than now plus `ingest_max_future_skew_seconds`) depends on
  the clock or is not part of Graph's types, so a generated record may be refused with 400 and a
  per-record reason.

Every other request is still judged, and every response (these included) still goes through all
the other checks: no 5xx, a declared status, headers and body as the document says (every 4xx is
Graph's error envelope), invalid data refused.
"""

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

ODATA_EXPRESSIONS = frozenset({"$filter", "$orderby", "$select", "$apply", "$skiptoken", "$deltatoken"})


@schemathesis.check
def positive_data_acceptance_outside_odata(ctx, response, case):
    """Valid data is accepted, unless it holds free-text OData expressions or ingest records."""
    query = case.query or {}
    if ODATA_EXPRESSIONS.intersection(query):
        return None
    if "$format" in query and "$count" in query:
        return None
    if case.operation.path.startswith("/ingest/") or case.operation.path == "/idtrail/script":
        return None
    return positive_data_acceptance(ctx, response, case)
