// `npx tsx bench/cpu-profile.ts <file.cpuprofile> [--top N]`: where a V8 CPU profile of Shipyard's
// production build (`npm run bench:fleet -- --profile DIR`) spent its time. dist/ is bundled, so
// every frame is mapped back through its source map to the file it came from, then summed:
//   - by package (self time): a library in node_modules, Node's own code, V8's garbage collector,
//     or Shipyard's folder (activities, db, …);
//   - by the innermost Shipyard function on the stack (self time of everything it called):
//     which of our code the libraries' time was spent for;
//   - the functions with the most self time.
import { readFileSync, existsSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values: args, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
const top = Number(args.top);
if (positionals.length !== 1) throw new Error('usage: tsx bench/cpu-profile.ts <file.cpuprofile> [--top N]');
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;

const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    let map: SourceMap | undefined;
    if (url.startsWith('file://')) {
      const path = `${fileURLToPath(url)}.map`;
      if (existsSync(path)) map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')));
    }
    maps.set(url, map);
  }
  return maps.get(url);
}

interface Origin {
  /** A package name, `node:internal`, `(garbage collector)`, … or a Shipyard folder like `activities/kubernetes.ts`. */
  owner: string;
  ours: boolean;
  name: string;
}

function originOf(frame: CallFrame): Origin {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return { owner: name.startsWith('(') ? name : '(native)', ours: false, name };
  if (frame.url.startsWith('node:')) return { owner: 'node (built-in)', ours: false, name };
  let file = frame.url;
  const map = sourceMapOf(frame.url);
  if (map) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number; name?: string };
    if (entry.originalSource) file = entry.originalSource;
  }
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = file.slice(modules + 'node_modules/'.length).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    return { owner: pkg, ours: false, name };
  }
  const ours = /(?:^|\/)(activities|api|db|domain|lifecycle|temporal|worker|workflows|cli|bench)\/[^/]+$/.exec(file);
  if (ours) return { owner: ours[0].replace(/^\//, ''), ours: true, name };
  return { owner: file.replace(/^.*\//, ''), ours: false, name };
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const origins = new Map(profile.nodes.map((n) => [n.id, originOf(n.callFrame)]));

const selfByOwner = new Map<string, number>();
const selfByFunction = new Map<string, number>();
const forOurs = new Map<string, number>();
let total = 0;
let idle = 0;
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

profile.samples.forEach((id, i) => {
  const micros = profile.timeDeltas[i] ?? 0;
  const origin = origins.get(id)!;
  if (origin.owner === '(idle)') {
    idle += micros;
    return;
  }
  total += micros;
  add(selfByOwner, origin.owner, micros);
  add(selfByFunction, `${origin.name} [${origin.owner}]`, micros);
  // The innermost Shipyard frame on the stack: whose work this was.
  let at: number | undefined = id;
  let ours = '(no Shipyard frame: event loop, timers, Temporal core callbacks)';
  while (at !== undefined) {
    const o = origins.get(at)!;
    if (o.ours) {
      ours = `${o.name} [${o.owner}]`;
      break;
    }
    at = parent.get(at);
  }
  if (origin.owner === '(garbage collector)') ours = '(garbage collector)';
  add(forOurs, ours, micros);
});

const seconds = (micros: number) => (micros / 1e6).toFixed(2);
const share = (micros: number) => `${((micros * 100) / total).toFixed(1)}%`;
function print(title: string, m: Map<string, number>) {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${seconds(v).padStart(7)} s ${share(v).padStart(6)}  ${k}`);
}
console.log(`${positionals[0]}: ${seconds(total)} s busy over ${seconds(profile.endTime - profile.startTime)} s (idle ${seconds(idle)} s); unused node ids ${byId.size - origins.size}`);
print('self time by package or Shipyard file', selfByOwner);
print('time by the innermost Shipyard function on the stack', forOurs);
print('self time by function', selfByFunction);
