// How figures are written on the page. Money from billing is a decimal string and stays one:
// sums are done on scaled integers, never in floating point.

export function count(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US");
}

export function ms(value) {
  return value === null || value === undefined ? "–" : `${Number(value).toFixed(1)} ms`;
}

export function percent(value) {
  return value === null || value === undefined ? "–" : `${(Number(value) * 100).toFixed(1)} %`;
}

export function when(iso) {
  if (!iso) return "–";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? String(iso) : moment.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

const SCALE = 12;

function scaled(decimal) {
  const [whole, fraction = ""] = String(decimal).trim().split(".");
  const negative = whole.startsWith("-");
  const digits = BigInt((whole.replace("-", "") || "0") + fraction.padEnd(SCALE, "0").slice(0, SCALE));
  return negative ? -digits : digits;
}

/** The exact sum of decimal strings ("0.1" + "0.2" = "0.3"). */
export function addDecimals(values) {
  let total = 0n;
  for (const value of values) total += scaled(value ?? "0");
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(SCALE + 1, "0");
  const fraction = digits.slice(-SCALE).replace(/0+$/, "");
  return (negative ? "-" : "") + digits.slice(0, -SCALE) + (fraction ? "." + fraction : "");
}

export function money(value, currency = "USD") {
  return value === null || value === undefined ? "–" : `${value} ${currency}`;
}

/** Today's date and the first of the month (UTC), as YYYY-MM-DD. */
export function monthToDate(now = new Date()) {
  const today = now.toISOString().slice(0, 10);
  return {from: today.slice(0, 8) + "01", to: today, month: today.slice(0, 7)};
}
