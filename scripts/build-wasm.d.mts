/** The text keyword-scan-wasm.ts should hold for keyword-scan.wat as it is now. */
export function generatedKeywordScan(): Promise<string>;
