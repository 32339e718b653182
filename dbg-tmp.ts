import { detect } from './gateway/guard/detect.js';
import { phoneDetector } from './gateway/guard/detectors/phone.js';
for (const t of process.argv.slice(2)) { const o:any[]=[]; phoneDetector.scan(t,o); console.log(JSON.stringify(t), o, detect(t).map(f=>[f.class,t.slice(f.start,f.end),f.detector])); }
