/**
 * Calls to the org controller (enrolment, sign-in, bundle sync, audit shipping) trust the system
 * CA store plus any private CA given with `controller.caFile` / `--controller-ca`, without
 * NODE_EXTRA_CA_CERTS (which would widen trust for every connection the process makes, upstream
 * model APIs included). The extra CAs apply to controller calls only and are process-wide: one
 * process talks to one org. undici's own fetch is used with them, so the Agent and the fetch
 * always come from the same undici version.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';

/** A CA file that cannot be used; the message names the file and the reason, never its content. */
export class ControllerCaError extends Error {
  override name = 'ControllerCaError';
}

const trusted = new Map<string, string>();
let agent: Agent | undefined;

/** Adds the PEM certificate(s) in `path` to what controller calls trust. */
export function trustControllerCaFile(path: string): void {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ControllerCaError(`cannot read the controller CA file ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ControllerCaError(`${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new ControllerCaError(`${path} holds a certificate that does not parse`);
    }
    if (!trusted.has(block)) {
      trusted.set(block, path);
      agent = undefined;
    }
  }
}

/** `fetch` for controller URLs: the global one, or undici's with the extra CAs when any are trusted. */
export function controllerFetch(url: string, init: RequestInit = {}): Promise<Response> {
  if (trusted.size === 0) return fetch(url, init);
  agent ??= new Agent({ connect: { ca: [...rootCertificates, ...trusted.keys()] } });
  return undiciFetch(url, { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}
