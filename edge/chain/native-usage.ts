// Whether a request's usage is estimated instead of asked of upstream: a stream under the native
// relay whose client did not ask for usage. The native feed hands upstream's bytes on as they are,
// so it cannot drop the usage chunk the edge would have asked for on the client's behalf; upstream
// is not asked, and the terminal line carries an estimate marked usage_estimated.
import type { ChainRequest } from "./types.ts";

export function estimatesUsage(req: ChainRequest): boolean {
  return req.streamRelay === "native" && req.body.stream === true && req.body.stream_options?.include_usage !== true && (req.endpoint ?? "chat") === "chat";
}
