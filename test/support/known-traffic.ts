// The known traffic the usage tests send under wrangler dev and under npm run serve: three priced
// providers (one free) on two routes, and a stream that breaks after 40 words at a paid provider
// and is finished by a cheaper prefill one. What each costs follows from these prices.
export const PRICES = {
  paid: { input_per_mtok: 3, output_per_mtok: 15 },
  cheap: { input_per_mtok: 0.5, output_per_mtok: 1.5 },
  free: { input_per_mtok: 0, output_per_mtok: 0 },
};
export const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");
/** What the client has when the paid stream breaks (its cost is the router's estimate from it). */
export const FIRST_40 = ANSWER.split(/(?<= )/).slice(0, 40).join("");

export const usd = (price: { input_per_mtok: number; output_per_mtok: number }, prompt: number, completion: number) =>
  (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6;

/** The fake provider's scripts for the continued stream: spaid cuts after 40 words, scheap continues. */
export const CONTINUED_STREAM_SCRIPTS = {
  spaid: [{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }],
  scheap: [{ type: "sse", content: ANSWER, prefill: true }],
};

type ProviderOf = (id: string, price: unknown, extra?: Record<string, unknown>) => Record<string, unknown>;

/** Routes main [paid, cheap], gratis [free], story [spaid, scheap], and two clients, alpha and beta. */
export function knownTrafficConfig(provider: ProviderOf) {
  return {
    routes: { main: ["paid", "cheap"], gratis: ["free"], story: ["spaid", "scheap"] },
    providers: {
      paid: provider("paid", PRICES.paid),
      cheap: provider("cheap", PRICES.cheap),
      free: provider("free", PRICES.free),
      spaid: provider("spaid", PRICES.paid),
      scheap: provider("scheap", PRICES.cheap, { capabilities: ["prefill"] }),
    },
    clients: { alpha: { key_secret: "ALPHA_KEY" }, beta: { key_secret: "BETA_KEY" } },
  };
}
