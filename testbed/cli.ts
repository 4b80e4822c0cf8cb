// `npm run infra:up|down|status|reset`
import { infraDown, infraReset, infraStatus, infraUp } from './index';
import { TestbedError } from './runtime';

const command = process.argv[2];

async function main(): Promise<void> {
  switch (command) {
    case 'up':
      await infraUp();
      return;
    case 'down':
      await infraDown();
      return;
    case 'reset':
      await infraReset();
      return;
    case 'status': {
      const rows = await infraStatus();
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const row of rows) {
        console.log(`${row.name.padEnd(width)}  ${row.up ? 'up  ' : 'down'}  ${row.address}  ${row.log}`);
      }
      return;
    }
    default:
      console.error('usage: tsx testbed/cli.ts up|down|status|reset');
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof TestbedError ? err.message : err);
  process.exit(1);
});
