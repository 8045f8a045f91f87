// A known path asked with the wrong method answers 405 with `allow` (RFC 9110), not the 404 for an
// unknown endpoint. The allowed methods are read back from the app's own routes, so a new route
// needs nothing here.
import type { Hono } from "hono";
import { openAIError } from "../shared/errors.ts";
import type { AppEnv } from "./http.ts";

/** Call after every route is registered: adds one catch-all per concrete path. */
export function answerWrongMethods(app: Hono<AppEnv>): void {
  const methods = new Map<string, Set<string>>();
  for (const { method, path } of app.routes) {
    if (method === "ALL" || path.includes("*")) continue;
    const set = methods.get(path) ?? new Set<string>();
    set.add(method);
    if (method === "GET") set.add("HEAD"); // Hono answers HEAD from the GET route
    methods.set(path, set);
  }
  for (const [path, set] of methods) {
    const allow = [...set].join(", ");
    app.all(path, (c) =>
      c.json(
        openAIError(`${c.req.method} is not allowed on ${c.req.path}: use ${allow}`, "invalid_request_error", "method_not_allowed"),
        405,
        { allow },
      ),
    );
  }
}
