// The bench's flags (defaults in brackets; every load is bounded in count and by --phase-deadline):
//   --n 2000            complete logouts of the main run, ours and the peer's (max 5000)
//   --concurrency 16    concurrent logouts (max 64)
//   --variant-n 300     logouts of each variant run (other algorithms, no back-channel)
//   --wasm-n 200        logouts with SIGNER=wasm
//   --hint-requests 300 requests per hint-verification measurement
//   --floor-requests 100 requests per floor measurement
//   --scale-rps 1,3,10,50,200   relying parties per session
//   --admin-sessions 1,10,100,1000   sessions of one user ended by one admin logout
//   --starts 3          cold starts timed (the main and wasm instances count)
//   --isolate-n 600     logouts per run of the isolate rounds (ours, the twin, the peer; ES256 and EdDSA: half)
//   --rounds 3          interleaved rounds of the isolate phase
//   --isolate-rps 1,3,10,50,200,1000   relying parties per session, the request alone under a profile
//   --phase-deadline 90 seconds, per timed phase
//   --quick             small counts everywhere (a smoke run, ~2 min)
//   --no-peer --no-host --no-floor --no-variants --no-scale --no-admin --no-wasm --no-isolate
//   --no-memory         no isolate rounds without the simulators (bench-memory build, the twin's Map)
//   --wasm              also SIGNER=wasm (builds the wasm-crypto variant into build-wasm-crypto/)
//   --out bench/results/latest.json
//   --summarize FILE    print the table of an earlier run's JSON again (and refresh it in FILE), run nothing
import path from 'node:path';

export function parseOptions(argv, root) {
  const flag = (name) => argv.includes(`--${name}`);
  const arg = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
  const num = (name, def, min, max) => Math.min(max, Math.max(min, Number(arg(name, def))));
  const list = (name, def) => String(arg(name, def)).split(',').filter(Boolean).map(Number);
  const quick = flag('quick');
  const opt = {
    n: num('n', quick ? 300 : 2000, 1, 5000),
    concurrency: num('concurrency', 16, 1, 64),
    variantN: num('variant-n', quick ? 100 : 300, 1, 5000),
    wasmN: num('wasm-n', quick ? 50 : 200, 1, 2000),
    hintRequests: num('hint-requests', quick ? 80 : 300, 10, 5000),
    floorRequests: num('floor-requests', quick ? 40 : 100, 10, 2000),
    scaleRps: list('scale-rps', '1,3,10,50,200').map((x) => Math.min(400, Math.max(1, x))),
    adminSessions: list('admin-sessions', quick ? '1,10,100' : '1,10,100,1000').map((x) => Math.min(1000, Math.max(1, x))),
    starts: num('starts', 3, 1, 10),
    isolateN: num('isolate-n', quick ? 150 : 600, 10, 5000),
    rounds: num('rounds', quick ? 1 : 3, 1, 9),
    isolateRps: list('isolate-rps', quick ? '1,10,200' : '1,3,10,50,200,1000').map((x) => Math.min(1000, Math.max(1, x))),
    phaseDeadlineS: num('phase-deadline', 90, 5, 600),
    peer: !flag('no-peer'),
    host: !flag('no-host'),
    floor: !flag('no-floor'),
    variants: !flag('no-variants'),
    scale: !flag('no-scale'),
    admin: !flag('no-admin'),
    wasm: flag('wasm'),
    isolate: !flag('no-isolate'),
    memory: !flag('no-memory'),
    out: path.resolve(root, arg('out', 'bench/results/latest.json')),
  };
  return { opt, quick, summarizeFile: arg('summarize', null) };
}
