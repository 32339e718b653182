/**
 * What detect() learns about a text in one pass over its characters, shared by every detector: which
 * characters occur (so a detector whose anchor is absent is skipped without a regex of its own), the
 * longest digit run, and the lower-cased text (made at most once, for every detector that reads it).
 */
export class TextView {
  readonly text: string;
  /** Longest run of ASCII digits. */
  readonly maxDigitRun: number;
  /** Number of ASCII digits. */
  readonly digits: number;
  readonly hasUpper: boolean;
  readonly hasAt: boolean;
  readonly hasColon: boolean;
  readonly hasEquals: boolean;
  readonly hasDot: boolean;
  readonly hasDash: boolean;
  #lower: string | undefined;

  constructor(text: string) {
    this.text = text;
    let run = 0, maxRun = 0, digits = 0;
    let upper = false, at = false, colon = false, equals = false, dot = false, dash = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        digits++;
        if (++run > maxRun) maxRun = run;
        continue;
      }
      run = 0;
      if (c >= 65 && c <= 90) upper = true;
      else if (c === 64) at = true;
      else if (c === 58) colon = true;
      else if (c === 61) equals = true;
      else if (c === 46) dot = true;
      else if (c === 45) dash = true;
      else if (c > 127) upper = true; // a non-ASCII letter may be a capital; the person scan decides
    }
    this.maxDigitRun = maxRun;
    this.digits = digits;
    this.hasUpper = upper;
    this.hasAt = at;
    this.hasColon = colon;
    this.hasEquals = equals;
    this.hasDot = dot;
    this.hasDash = dash;
  }

  /** The lower-cased text, computed on first use. */
  lower(): string {
    return (this.#lower ??= this.text.toLowerCase());
  }
}
