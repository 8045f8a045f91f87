// uPlot (the `uplot` dependency), as text the status page inlines under its CSP nonce: its
// browser build for the history charts and its stylesheet. wrangler.toml's Text rule bundles both
// files as strings.
import uplotScript from "uplot/dist/uPlot.iife.min.js";
import uplotStyle from "uplot/dist/uPlot.min.css";

export { uplotScript, uplotStyle };
