/** Polls a condition (for state that settles asynchronously, e.g. sockets closing) instead of fixed sleeps. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 2000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
