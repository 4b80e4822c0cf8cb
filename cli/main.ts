// `shipyard`: the one binary. Server commands (`api | worker | migrate | all`) are the image's
// entry points; the rest (`instances`, `operations`, `rollouts`, …) are the operator's CLI over
// the API. `npm run build` bundles this file to dist/shipyard.js; from a clone, `tsx cli/main.ts`.
// Exit codes (cli/ops/exit-codes.ts): 0 ok, 1 the work failed, 2 usage, 3 refused or not found,
// 4 authentication or permission, 5 API unreachable or failing, 130 interrupted.
import { Command, CommanderError } from 'commander';
import { addOperatorCommands } from './ops/commands';
import { bashCompletion, completionTree, zshCompletion } from './ops/completion';
import { errorMessage, exitCodeFor, exitCodes } from './ops/exit-codes';
import type { ServerCommand } from './serve';

const serverCommands: Record<ServerCommand, string> = {
  api: 'serve the HTTP API',
  worker: 'run the Temporal worker (workflows and activities)',
  migrate: "bring the catalogue's schema up to date, then exit",
  all: 'API and worker in one process (small installs)',
};

const program = new Command('shipyard')
  .description('Shipyard: per-customer instances as durable Temporal workflows. Server commands run Shipyard; the others operate it through its API.')
  // Settings every subcommand inherits: they must come before the commands are added.
  .exitOverride()
  .showSuggestionAfterError()
  .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
  .addHelpText(
    'after',
    `
Connection: SHIPYARD_API_URL and SHIPYARD_API_KEY, or a profile (shipyard config set-profile).
Exit codes: 0 ok; 1 the operation or rollout failed, was rolled back or cancelled; 2 usage;
  3 the API refused the request or found nothing; 4 the key is missing, unknown or not allowed;
  5 the API is unreachable or failing; 130 interrupted (the operation goes on).`,
  );

let serving = false;
for (const [name, description] of Object.entries(serverCommands) as [ServerCommand, string][]) {
  const command = program.command(name).description(description);
  command.helpGroup?.('Server commands:');
  // A cluster worker serves one cluster's activities on that cluster's queue (docs/multi-cluster.md).
  if (name === 'worker') command.option('--cluster <name>', "run as this cluster's worker (the same as SHIPYARD_CLUSTER)");
  command.action(async (options: { cluster?: string }) => {
    serving = true;
    // Loaded only by the server commands: the operator's CLI never loads the API or worker.
    const { serve } = await import('./serve');
    await serve(name, { cluster: options.cluster });
  });
}
addOperatorCommands(program);
program
  .command('completion')
  .description('print a shell completion script')
  .argument('<shell>', 'bash or zsh')
  .action((shell: string) => {
    const tree = completionTree(program);
    if (shell === 'bash') process.stdout.write(bashCompletion(tree));
    else if (shell === 'zsh') process.stdout.write(zshCompletion(tree));
    else throw new CommanderError(exitCodes.usage, 'shipyard.completion', `error: no completion for "${shell}" (bash or zsh)`);
  });

if (process.argv.length <= 2) {
  program.outputHelp();
  process.exit(exitCodes.ok);
}
let code: number = exitCodes.ok;
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version end with code 0; any other complaint about the command line is a usage error.
    code = err.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    if (err.code === 'shipyard.completion') process.stderr.write(`${err.message}\n`);
  } else if (serving) {
    // A server that fails to start keeps its stack trace for whoever reads its logs.
    throw err;
  } else {
    process.stderr.write(`${errorMessage(err)}\n`);
    code = exitCodeFor(err);
  }
}
// The server commands run until signalled (they exit themselves); the others end here, without
// waiting for idle keep-alive connections to close.
if (!serving || code !== exitCodes.ok) {
  process.stdout.write('', () => process.exit(code));
}
