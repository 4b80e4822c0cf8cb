// Reads the Dockerfile into stages and instructions, so the image-layout test builds exactly
// what the Dockerfile says (there is no Docker engine on these machines).
import { readFileSync } from 'node:fs';

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
}

export interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

export function parseDockerfile(path: string): Stage[] {
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: keyword!.toUpperCase(), args: args!.replace(/\s+/g, ' ').trim() };
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(' ');
      stages.push({ from: from!, ...(as?.toUpperCase() === 'AS' ? { name } : {}), instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

export const stageNamed = (stages: Stage[], name: string): Stage => {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`the Dockerfile has no stage "${name}"`);
  return stage;
};

export const instructionsOf = (stage: Stage, keyword: string): string[] =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

/** A RUN's shell command without BuildKit flags such as `--mount=type=cache,...`. */
export const shellOf = (run: string): string => run.replace(/^(--\S+\s+)+/, '');

/** `COPY [--from=stage] src... dest`. */
export function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** `ENV A=1 B=2` (the key=value form). */
export function parseEnv(args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map(([, k, v]) => [k!, v!.replace(/^"|"$/g, '')]));
}
