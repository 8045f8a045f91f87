// The one USD formatter of the status page, put into both of its scripts (status and history). A
// cost reads as a person rounds it: half up, to the cent ($0.045 is $0.05, though as a float 0.045
// is 0.04499..., which toFixed(2) writes $0.04), and to the micro-dollar under a cent, so a small
// cost does not read $0.00. The scaled value is cut to 12 significant digits first, which takes
// off the float's error (0.045 * 100 = 4.5, 1.005 * 100 = 100.49999999999999 -> 100.5).
// Plain browser JavaScript in a string: no backticks and no dollar-brace.
export const usdScript = `
  function usd(n) {
    if (n === null || n === undefined) return "\\u2013";
    const x = Number(n);
    const digits = x !== 0 && Math.abs(x) < 0.01 ? 6 : 2;
    const scale = Math.pow(10, digits);
    return "$" + (Math.round(Number((x * scale).toPrecision(12))) / scale).toFixed(digits);
  }
`;
