// The API, as generated from proto/ and spoken over gRPC-Web to the
// server that served this page.
import { createClient, type Client, type Interceptor, ConnectError } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuditService } from "./gen/repat/v1/audit_pb.js";
import { EarningService } from "./gen/repat/v1/earning_pb.js";
import { IncentiveService } from "./gen/repat/v1/incentive_pb.js";
import { MetricsService } from "./gen/repat/v1/metrics_pb.js";
import { PartyService } from "./gen/repat/v1/party_pb.js";
import { ReconciliationService } from "./gen/repat/v1/reconciliation_pb.js";
import { RepatriationService } from "./gen/repat/v1/repatriation_pb.js";
import { session } from "./session.js";

const bearer: Interceptor = (next) => async (req) => {
  const token = session()?.token;
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

const transport = createGrpcWebTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [bearer] });

export const api: {
  parties: Client<typeof PartyService>;
  earnings: Client<typeof EarningService>;
  repatriations: Client<typeof RepatriationService>;
  incentives: Client<typeof IncentiveService>;
  metrics: Client<typeof MetricsService>;
  reconciliation: Client<typeof ReconciliationService>;
  audit: Client<typeof AuditService>;
} = {
  parties: createClient(PartyService, transport),
  earnings: createClient(EarningService, transport),
  repatriations: createClient(RepatriationService, transport),
  incentives: createClient(IncentiveService, transport),
  metrics: createClient(MetricsService, transport),
  reconciliation: createClient(ReconciliationService, transport),
  audit: createClient(AuditService, transport),
};

/** A sentence for an error: the server's code and reason. */
export function describeError(e: unknown): string {
  if (e instanceof ConnectError) return `${codeName(e.code)}: ${e.rawMessage}`;
  return e instanceof Error ? e.message : String(e);
}

function codeName(code: number): string {
  const names = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
    "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];
  return names[code] ?? `code ${code}`;
}

/** Every page of a list, up to `limit` items. */
export async function all<T>(fetch: (pageToken: string) => Promise<{ items: T[]; next: string }>, limit = 20000): Promise<T[]> {
  const out: T[] = [];
  let token = "";
  do {
    const page = await fetch(token);
    out.push(...page.items);
    token = page.next;
  } while (token && out.length < limit);
  return out;
}
