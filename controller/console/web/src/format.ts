const usdFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 });
const intFormat = new Intl.NumberFormat('en-US');

export const usd = (n: number) => usdFormat.format(n);
export const int = (n: number) => intFormat.format(n);
export const day = (iso: string) => iso.slice(0, 10);
export const dateTime = (iso: string) => new Date(iso).toLocaleString('en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }) + ' UTC';

/** Start of the UTC day `days` ago, and the start of tomorrow: the default 30-day range. */
export function lastDays(days: number): { from: string; to: string } {
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  const from = new Date(today.getTime() - (days - 1) * 86_400_000);
  const to = new Date(today.getTime() + 86_400_000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** A date input's YYYY-MM-DD as the ISO time at the start of that UTC day. */
export const startOfDay = (date: string) => `${date}T00:00:00.000Z`;
