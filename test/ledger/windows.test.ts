import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTimeZone, localDay, windowBounds } from '../../models/budget-windows.js';

const HOUR = 3_600_000;

describe('budget windows in a tenant time zone', () => {
  it('UTC days and months are calendar days and months', () => {
    const now = Date.parse('2026-12-01T15:00:00Z');
    assert.deepEqual(windowBounds('day', now, 'UTC'), { start: Date.parse('2026-12-01T00:00:00Z'), end: Date.parse('2026-12-02T00:00:00Z') });
    assert.deepEqual(windowBounds('month', now, 'UTC'), { start: Date.parse('2026-12-01T00:00:00Z'), end: Date.parse('2027-01-01T00:00:00Z') });
  });

  it('a day in America/New_York starts at local midnight, across UTC midnight', () => {
    // 02:30 UTC on Dec 2 is still Dec 1 in New York (UTC-5).
    const lateEvening = Date.parse('2026-12-02T02:30:00Z');
    const day = windowBounds('day', lateEvening, 'America/New_York');
    assert.equal(new Date(day.start).toISOString(), '2026-12-01T05:00:00.000Z');
    assert.equal(new Date(day.end).toISOString(), '2026-12-02T05:00:00.000Z');
    assert.equal(localDay(lateEvening, 'America/New_York'), '2026-12-01');
    assert.equal(localDay(lateEvening, 'UTC'), '2026-12-02');
    // A minute after local midnight is the next day.
    assert.equal(localDay(Date.parse('2026-12-02T05:01:00Z'), 'America/New_York'), '2026-12-02');
  });

  it('the spring-forward day is 23 hours long and the fall-back day 25 (Europe/Berlin, 2026)', () => {
    const spring = windowBounds('day', Date.parse('2026-03-29T12:00:00Z'), 'Europe/Berlin');
    assert.equal(new Date(spring.start).toISOString(), '2026-03-28T23:00:00.000Z');
    assert.equal(spring.end - spring.start, 23 * HOUR);
    const autumn = windowBounds('day', Date.parse('2026-10-25T12:00:00Z'), 'Europe/Berlin');
    assert.equal(new Date(autumn.start).toISOString(), '2026-10-24T22:00:00.000Z');
    assert.equal(autumn.end - autumn.start, 25 * HOUR);
    // The month of March in Berlin starts in CET and ends in CEST.
    const march = windowBounds('month', Date.parse('2026-03-15T00:00:00Z'), 'Europe/Berlin');
    assert.equal(new Date(march.start).toISOString(), '2026-02-28T23:00:00.000Z');
    assert.equal(new Date(march.end).toISOString(), '2026-03-31T22:00:00.000Z');
  });

  it('a zone whose midnight does not exist on its DST day starts that day at 01:00 (America/Santiago)', () => {
    // Chile moves clocks from 00:00 to 01:00 on 2026-09-06.
    const day = windowBounds('day', Date.parse('2026-09-06T15:00:00Z'), 'America/Santiago');
    assert.equal(new Date(day.start).toISOString(), '2026-09-06T04:00:00.000Z');
    assert.equal(day.end - day.start, 23 * HOUR);
  });

  it('knows IANA names and refuses others', () => {
    assert.equal(isValidTimeZone('Asia/Kathmandu'), true);
    assert.equal(isValidTimeZone('Mars/Olympus'), false);
    assert.throws(() => windowBounds('day', 0, 'Mars/Olympus'), /unknown time zone/);
  });
});
