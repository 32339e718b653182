import { OpenRedaction } from 'openredaction';
import * as rp from 'redact-pii';
const t = 'Contact Jane Smith at jane@acme.io or +1 415-555-0132, card 4111 1111 1111 1111, ssn 123-45-6789, key sk-proj-abcdefghijklmnopqrstuvwxyz123456 ip 52.14.3.9';
const r = new OpenRedaction({ redactionMode: 'placeholder' } as any);
const d: any = await r.detect(t);
console.log(Object.keys(d), JSON.stringify(d.detections?.slice(0,3) ?? d, null, 0).slice(0, 1500));
console.log(Object.keys(rp));
const sr = new (rp as any).SyncRedactor();
console.log(sr.redact(t));
