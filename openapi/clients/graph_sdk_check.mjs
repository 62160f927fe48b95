// Microsoft's own Graph SDK (@microsoft/microsoft-graph-client 3) against idtrail: list sign-ins with
// $filter, $select, $top and $count, walk every page with PageIterator, read one directory audit,
// the risky users and one user's history. Any mismatch is a bug in idtrail's envelopes or paging.
//
// The SDK only attaches tokens to https hosts and only strips https hosts from nextLinks, so it is
// pointed at https://127.0.0.1:PORT and a fetch wrapper plays the TLS-terminating proxy: it sends
// the request over http with `X-Forwarded-Proto: https`, from which idtrail writes https nextLinks.
import assert from "node:assert/strict";
import { Client, PageIterator } from "@microsoft/microsoft-graph-client";

const plain = new URL(process.env.CHECK_URL);
const token = process.env.CHECK_TOKEN;
const httpsBase = `https://${plain.host}`;

const realFetch = globalThis.fetch;
const seen = [];
globalThis.fetch = (input, init = {}) => {
  const url = String(input instanceof Request ? input.url : input);
  assert.ok(url.startsWith(httpsBase), `the SDK requested ${url}`);
  const headers = new Headers(init.headers);
  headers.set("x-forwarded-proto", "https");
  seen.push(url);
  return realFetch(plain.origin + url.slice(httpsBase.length), { ...init, headers });
};

const client = Client.init({
  baseUrl: httpsBase,
  defaultVersion: "v1.0",
  customHosts: new Set([plain.hostname]),
  authProvider: (done) => done(null, token),
});

let passed = 0;
async function check(name, fn) {
  await fn();
  passed += 1;
  console.log(`ok - ${name}`);
}

await check("sign-ins: $filter, $select, $top, $count and every page through PageIterator", async () => {
  const filter = "status/errorCode eq 0 and clientAppUsed eq 'Browser'";
  const first = await client
    .api("/auditLogs/signIns")
    .filter(filter)
    .select(["id", "createdDateTime", "userPrincipalName", "status"])
    .top(50)
    .count(true)
    .get();
  assert.equal(typeof first["@odata.context"], "string");
  assert.ok(Number.isInteger(first["@odata.count"]), "@odata.count");
  assert.ok(first.value.length <= 50);
  const ids = new Set();
  let last = null;
  const iterator = new PageIterator(client, first, (item) => {
    assert.deepEqual(Object.keys(item).sort(), ["createdDateTime", "id", "status", "userPrincipalName"]);
    assert.equal(item.status.errorCode, 0);
    assert.ok(!ids.has(item.id), `duplicate ${item.id}`);
    ids.add(item.id);
    if (last !== null) assert.ok(item.createdDateTime <= last, "newest first across pages");
    last = item.createdDateTime;
    return true;
  });
  await iterator.iterate();
  assert.ok(iterator.isComplete());
  assert.equal(ids.size, first["@odata.count"], "items walked = @odata.count");
  assert.ok(ids.size > 50, `more than one page (${ids.size} items)`);
  const count = await client.api("/auditLogs/signIns/$count").filter(filter).get();
  assert.equal(Number(count), ids.size, "/$count");
});

await check("directory audits: list one, read it by id", async () => {
  const page = await client.api("/auditLogs/directoryAudits").top(1).get();
  assert.equal(page.value.length, 1);
  assert.ok(page["@odata.nextLink"], "a nextLink when more exist");
  const audit = await client.api(`/auditLogs/directoryAudits/${page.value[0].id}`).get();
  assert.equal(audit.id, page.value[0].id);
  assert.equal(typeof audit.activityDateTime, "string");
  assert.equal(typeof audit.initiatedBy, "object");
});

await check("risky users: list at risk, read one user's history (beta too)", async () => {
  const users = await client.api("/identityProtection/riskyUsers").filter("riskState eq 'atRisk'").get();
  assert.ok(users.value.length > 0);
  for (const u of users.value) assert.equal(u.riskState, "atRisk");
  const all = [];
  await new PageIterator(client, await client.api("/identityProtection/riskyUsers").top(5).get(), (u) => {
    all.push(u);
    return true;
  }).iterate();
  assert.ok(all.length >= users.value.length);
  const history = await client.api(`/identityProtection/riskyUsers/${users.value[0].id}/history`).version("beta").get();
  assert.ok(Array.isArray(history.value));
});

await check("errors arrive as GraphError with Graph's code", async () => {
  await assert.rejects(
    client.api("/auditLogs/signIns").filter("nosuchProperty eq 1").get(),
    (e) => e.statusCode === 400 && e.code === "BadRequest" && typeof e.requestId === "string",
  );
  await assert.rejects(
    client.api("/auditLogs/signIns/00000000-0000-0000-0000-000000000000").get(),
    (e) => e.statusCode === 404 && e.code === "Request_ResourceNotFound",
  );
});

console.log(`graph sdk: ${passed} passed, 0 failed (${seen.length} requests)`);
