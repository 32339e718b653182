/**
 * Budget windows (calendar day and month) in a tenant's time zone. Shared by the controller's org
 * ledger and anything that shows windows to people. Luxon does the zone arithmetic (IANA zones
 * through Intl), so days that are 23 or 25 hours long around a DST change, and zones whose
 * midnight does not exist on a DST day, come out right (docs/decisions/0067).
 */
import { DateTime, IANAZone } from 'luxon';

export type LedgerWindow = 'day' | 'month';
export const LEDGER_WINDOWS: readonly LedgerWindow[] = ['day', 'month'];

export const DEFAULT_TIME_ZONE = 'UTC';

/** True for an IANA zone name the runtime knows (e.g. "Europe/Berlin", "UTC"). */
export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

export interface WindowBounds {
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
}

/** The day or month containing `now`, as seen in `timeZone`. */
export function windowBounds(window: LedgerWindow, now: number, timeZone: string): WindowBounds {
  const local = DateTime.fromMillis(now, { zone: timeZone });
  if (!local.isValid) throw new RangeError(`unknown time zone "${timeZone}"`);
  const unit = window === 'day' ? 'day' : 'month';
  const start = local.startOf(unit);
  const end = start.plus(unit === 'day' ? { days: 1 } : { months: 1 }).startOf(unit);
  return { start: start.toMillis(), end: end.toMillis() };
}

/** YYYY-MM-DD of `ts` in `timeZone` (the `day` keys of spend reports). */
export function localDay(ts: number, timeZone: string): string {
  return DateTime.fromMillis(ts, { zone: timeZone }).toFormat('yyyy-LL-dd');
}
