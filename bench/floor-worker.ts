// The pass-through floor: a Worker that only forwards the request to the provider, run under the
// same wrangler dev as InferRouter's bench so that wrangler's own cost can be subtracted.
export default {
  fetch: (request: Request, env: { UPSTREAM: string }) => fetch(`${env.UPSTREAM}${new URL(request.url).pathname.replace(/^\/v1/, "")}`, request),
};
