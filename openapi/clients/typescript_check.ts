// Compiled with tsc --strict against the types openapi-typescript generates from
// openapi/openapi.json, then run: a typed list of sign-ins, one typed entity and a typed error.
import type { components, paths } from "./schema.js";

type ListSignIns = paths["/v1.0/auditLogs/signIns"]["get"];
type Query = NonNullable<ListSignIns["parameters"]["query"]>;
// The JSON 200 is a page, or with `$format=json` the export's one array: this request asks for a page.
type Page = Exclude<ListSignIns["responses"]["200"]["content"]["application/json"], unknown[]>;
type SignIn = components["schemas"]["microsoft.graph.signIn"];
type GraphError = components["schemas"]["microsoft.graph.ODataErrors.ODataError"];
type RiskLevel = components["schemas"]["microsoft.graph.riskLevel"];

const base = process.env.CHECK_URL ?? "";
const auth = { Authorization: `Bearer ${process.env.CHECK_TOKEN ?? ""}` };

const query: Query = { $filter: "status/errorCode ne 0", $top: 25, $select: ["id", "status", "riskLevelDuringSignIn"] };
const qs = new URLSearchParams({ $filter: query.$filter ?? "", $top: String(query.$top), $select: (query.$select ?? []).join(",") });

const res = await fetch(`${base}/v1.0/auditLogs/signIns?${qs}`, { headers: auth });
if (res.status !== 200) throw new Error(`list: ${res.status}`);
const page = (await res.json()) as Page;
const first: SignIn | undefined = page.value[0];
if (!first) throw new Error("no failed sign-ins in the demo data");
const code: number | null | undefined = first.status?.errorCode;
if (typeof code !== "number" || code === 0) throw new Error(`errorCode ${code}`);
const level: RiskLevel | null | undefined = first.riskLevelDuringSignIn;
const next: string | undefined = page["@odata.nextLink"];

const bad = await fetch(`${base}/v1.0/auditLogs/signIns?$top=0`, { headers: auth });
const err = (await bad.json()) as GraphError;
if (bad.status !== 400 || err.error.code !== "BadRequest" || !err.error.innerError?.["request-id"]) {
  throw new Error(`error envelope: ${bad.status} ${JSON.stringify(err)}`);
}
console.log(`typescript: 1 passed, 0 failed (${page.value.length} items, riskLevel ${level}, next ${next ? "yes" : "no"})`);
