// GET /status: the status page a person reads at a glance. The page itself needs no key (it holds no
// data); its script asks for an admin key and reads /v1/quota with it. A strict CSP: only this
// response's nonced style and script run, the script may talk only to this origin, and nothing
// loads from anywhere else, so the page works offline.
import { Hono } from "hono";
import { NONCE, secureHeaders, type SecureHeadersVariables } from "hono/secure-headers";
import { statusPage } from "../status/page.ts";

export const statusRoutes = new Hono<{ Variables: SecureHeadersVariables }>();

statusRoutes.get(
  "/",
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: [NONCE],
      styleSrc: [NONCE],
      connectSrc: ["'self'"],
      imgSrc: ["data:"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
      requireTrustedTypesFor: ["'script'"],
    },
  }),
  (c) => {
    c.header("cache-control", "no-store");
    return c.html(statusPage(c.get("secureHeadersNonce") ?? ""));
  },
);
