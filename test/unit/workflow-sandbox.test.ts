// Workflow code runs in Temporal's deterministic sandbox: a value import of Node built-ins, SDK
// clients or the activities' modules would break the bundle (or determinism) at worker start.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const workflowsDir = join(import.meta.dirname, '../../workflows');
const files = readdirSync(workflowsDir).filter((f) => f.endsWith('.ts'));

describe('workflows/ stays deterministic', () => {
  it.each(files)('%s imports only the workflow SDK, domain types and other workflow modules', (file) => {
    const source = readFileSync(join(workflowsDir, file), 'utf8');
    const imports = [...source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)].map((m) => ({ typeOnly: !!m[1], from: m[2]! }));
    for (const { typeOnly, from } of imports) {
      const allowed = from === '@temporalio/workflow' || from.startsWith('./') || from.startsWith('../domain/') || typeOnly;
      expect(allowed, `${file} imports ${from}`).toBe(true);
    }
    expect(source).not.toMatch(/Math\.random|Date\.now\(|setTimeout\(|process\.env/);
  });
});
