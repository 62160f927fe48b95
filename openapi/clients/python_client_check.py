"""The Python client that openapi-python-client generates from openapi/openapi.json, against a live
idtrail: list sign-ins with a filter, follow every nextLink to the end, get one by id, read the
sign-in activity report and follow a bucket's drill-down link, and receive a typed 403 (the Graph
error envelope as a model, not a dict)."""

import os
from urllib.parse import parse_qs, urlsplit

from idtrail_client import AuthenticatedClient
from idtrail_client.api.audit_logs import audit_logs_get_sign_ins, audit_logs_list_sign_ins
from idtrail_client.api.reports import idtrail_reports_sign_in_activity
from idtrail_client.models import ODataError, SignIn, SignInCollectionResponse

BASE = os.environ["CHECK_URL"]
FILTER = "status/errorCode eq 0 and createdDateTime ge 2000-01-01T00:00:00Z"
passed = 0


def client(token: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=BASE, token=token, raise_on_unexpected_status=True)


def check(name, fn):
    global passed
    fn()
    passed += 1
    print(f"ok - {name}")


def list_and_follow():
    c = client(os.environ["CHECK_TOKEN"])
    seen = set()
    pages = 0
    token = None
    total = None
    while True:
        res = audit_logs_list_sign_ins.sync_detailed(client=c, filter_=FILTER, top=200, count=True, skiptoken=token)
        assert res.status_code == 200, res.content
        page = res.parsed
        assert isinstance(page, SignInCollectionResponse), type(page)
        pages += 1
        if total is None:
            total = page.odata_count
        for s in page.value:
            assert isinstance(s, SignIn)
            assert s.status.error_code == 0
            assert s.id not in seen, s.id
            seen.add(s.id)
        next_link = page.odata_next_link
        if not isinstance(next_link, str):
            break
        # The nextLink carries every option plus $skiptoken: resume exactly there.
        query = parse_qs(urlsplit(next_link).query)
        assert query["$filter"] == [FILTER], query
        token = query["$skiptoken"][0]
    assert pages > 1, pages
    assert len(seen) == total, (len(seen), total)
    one = next(iter(seen))
    got = audit_logs_get_sign_ins.sync_detailed(client=c, id=one)
    assert got.status_code == 200
    assert isinstance(got.parsed, SignIn)
    assert got.parsed.id == one
    print(f"   {len(seen)} sign-ins in {pages} pages")


def sign_in_activity():
    c = client(os.environ["CHECK_TOKEN"])
    res = idtrail_reports_sign_in_activity.sync_detailed(
        client=c, period="P7D", interval="P1D", time_zone="Europe/Paris"
    )
    assert res.status_code == 200, res.content
    report = res.parsed
    assert len(report.buckets) >= 7, len(report.buckets)
    assert sum(b.sign_ins for b in report.buckets) == report.totals.sign_ins
    assert all(b.successful + b.failed == b.sign_ins for b in report.buckets)
    busiest = max(report.buckets, key=lambda b: b.sign_ins)
    assert busiest.sign_ins > 0
    # The bucket's drill-down link lists exactly its sign-ins.
    path, _, query = busiest.drill_down.partition("?")
    counted = c.get_httpx_client().get(f"{path}/$count?{query}")
    assert counted.status_code == 200, counted.text
    assert int(counted.text) == busiest.sign_ins, (counted.text, busiest.sign_ins)
    print(f"   {report.totals.sign_ins} sign-ins in 7 days, busiest day {busiest.sign_ins}")


def forbidden():
    c = AuthenticatedClient(base_url=BASE, token=os.environ["CHECK_FORBIDDEN_TOKEN"])
    res = audit_logs_list_sign_ins.sync_detailed(client=c, top=5)
    assert res.status_code == 403, res.status_code
    err = res.parsed
    assert isinstance(err, ODataError), type(err)
    assert err.error.code == "Authentication_MSGraphPermissionMissing", err.error.code
    assert err.error.inner_error.request_id


check("list sign-ins with $filter, follow every nextLink, get one by id", list_and_follow)
check("the sign-in activity report, and a bucket's drill-down link", sign_in_activity)
check("a 403 arrives as the typed Graph error", forbidden)
print(f"python client: {passed} passed, 0 failed")
