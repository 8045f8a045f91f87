// Admission: may this request call this provider now? In order of cost: its key (no RPC), then
// its circuit and quota (the isolate's denial cache, else one tracker RPC). A provider that may not
// be called is skipped and logged, and what it means for the final answer is noted.
import { buildUpstreamRequest } from "../providers.ts";
import type { AdmitResult } from "../quota/client.ts";
import { providerNeed } from "../quota/reserve.ts";
import { estimatesUsage } from "./native-usage.ts";
import type { Admitted, ChainRequest, WalkState } from "./types.ts";

export type { Admitted } from "./types.ts";

/** Denials that mean "limited" for the all-spent status: rate and quota, never a circuit or a dead key. */
function isLimited(denial: Extract<AdmitResult, { admitted: false }>): boolean {
  if (denial.reason === "circuit_open" || denial.reason === "quota_unavailable") return false;
  return !(denial.reason === "cooldown" && denial.cooldownReason === "auth_error");
}

export async function admitProvider(req: ChainRequest, walk: WalkState, providerId: string): Promise<Admitted | undefined> {
  const { config, log } = req;
  const provider = config.providers[providerId]!;
  const built = await buildUpstreamRequest(config, provider, req.body, req.env, log.requestId, req.endpoint, !estimatesUsage(req), req.messages);
  if (!built.ok) {
    log.skipped({ provider: providerId, model: provider.model, reason: "missing_key", message: built.message });
    walk.outcomes.push({ provider: providerId, category: "skipped", status: 0, detail: "missing key", limited: false, unconfigured: true });
    return undefined;
  }
  // A trial may take as long as the call it makes; past that, the next request may try instead.
  const need = providerNeed(req.body, provider, req.endpoint === "embeddings");
  const admission = await req.quota.admit(providerId, provider, built.request.timeoutMs, need);
  if (!admission.admitted) {
    // on_tracker_error = "deny": the tracker could not answer, so the provider is not called.
    if (admission.trackerError) log.quotaUnavailable({ provider: providerId, message: admission.trackerError });
    const retry_at = new Date(admission.retryAt).toISOString();
    const cause = admission.cooldownReason ? ` (${admission.cooldownReason})` : admission.trackerError ? ` (tracker: ${admission.trackerError})` : "";
    log.skipped({ provider: providerId, model: provider.model, reason: admission.reason, retry_at, ...(cause && { message: `cooling down${cause}` }) });
    const limited = isLimited(admission);
    walk.outcomes.push({
      provider: providerId,
      category: "skipped",
      status: 0,
      detail: admission.reason === "circuit_open" ? "circuit open" : `${admission.reason}${cause}`,
      limited,
      // A dead key does not come back by waiting: no retry-after for it.
      ...(admission.cooldownReason !== "auth_error" && { retryAt: admission.retryAt }),
    });
    return undefined;
  }
  if (admission.trackerError) log.quotaUnavailable({ provider: providerId, message: admission.trackerError });
  return { providerId, provider, upstream: built.request, trial: admission.trial, failures: admission.failures, reservation: admission.reservation };
}
