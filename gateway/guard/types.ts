/** Shared shapes of the Privacy Guard: what detection finds, and what a detector is. */

/** Built-in data classes; policies may add custom ones (any upper-case name). */
export type BuiltinClass =
  | 'EMAIL' | 'PHONE' | 'PERSON' | 'ADDRESS' | 'CREDIT_CARD' | 'IBAN' | 'US_SSN' | 'IP_ADDRESS'
  | 'URL' | 'DATE_OF_BIRTH' | 'API_KEY' | 'PRIVATE_KEY' | 'JWT' | 'PASSWORD' | 'CRYPTO_WALLET';

export type EntityClass = BuiltinClass | (string & {});

export interface Finding {
  class: EntityClass;
  /** UTF-16 offsets into the scanned text, end exclusive. */
  start: number;
  end: number;
  /** 0..1 */
  score: number;
  /** Which detector found it, e.g. "regex:email", "luhn:credit_card", "lexicon:person". */
  detector: string;
}

export interface DetectOptions {
  /** Restrict to these classes (default: all). */
  classes?: ReadonlySet<string>;
  /** Values never reported. */
  allow?: readonly string[];
  /** Values always reported with the given class. */
  deny?: ReadonlyArray<{ value: string; class: string }>;
  /** Extra regex classes from policy. */
  customClasses?: ReadonlyArray<{ name: string; pattern: string; flags?: string }>;
}

/** Finds entities in one text; results sorted by start, non-overlapping. */
export type DetectFn = (text: string, options?: DetectOptions) => Finding[];
