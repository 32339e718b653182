/**
 * What detectors learn about one text, learnt once and shared: whether a digit, a run of digits,
 * an '@', ':', '=' or a capital occurs, and the lower-cased text. Each fact is computed on first
 * use with a native search that stops at the first hit (most texts answer within a few characters),
 * then kept for every other detector, so no prefilter runs twice and the lower-cased copy is made
 * at most once.
 */
export class TextView {
  readonly text: string;
  #lower: string | undefined;
  #facts = new Map<string, boolean>();

  constructor(text: string) {
    this.text = text;
  }

  #fact(name: string, test: () => boolean): boolean {
    let v = this.#facts.get(name);
    if (v === undefined) this.#facts.set(name, (v = test()));
    return v;
  }

  /** A run of at least n ASCII digits (1–4). */
  digitRun(n: 1 | 2 | 3 | 4): boolean {
    return this.#fact(`d${n}`, () => DIGIT_RUNS[n - 1]!.test(this.text));
  }
  get hasDigit(): boolean {
    return this.digitRun(1);
  }
  get hasUpper(): boolean {
    return this.#fact('upper', () => /[A-Z\u00C0-\uFFFF]/.test(this.text));
  }
  get hasAt(): boolean {
    return this.#fact('@', () => this.text.includes('@'));
  }
  get hasColon(): boolean {
    return this.#fact(':', () => this.text.includes(':'));
  }
  get hasEquals(): boolean {
    return this.#fact('=', () => this.text.includes('='));
  }
  get hasDot(): boolean {
    return this.#fact('.', () => this.text.includes('.'));
  }

  /** The lower-cased text, computed on first use. */
  lower(): string {
    return (this.#lower ??= this.text.toLowerCase());
  }
}

const DIGIT_RUNS = [/\d/, /\d\d/, /\d{3}/, /\d{4}/];
