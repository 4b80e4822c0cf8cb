// `shipyard completion bash|zsh`: a completion script made from the command tree itself, so a
// new command or option completes without anyone editing a script.
import type { Command } from 'commander';

/** Each command path (`''` for the top, `instances`, `instances list`) → the words that may follow it. */
export function completionTree(program: Command): Map<string, string[]> {
  const tree = new Map<string, string[]>();
  const globalFlags = program.options.map((o) => o.long).filter((f): f is string => Boolean(f));
  const walk = (command: Command, path: string) => {
    const subcommands = command.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map((c) => c.name());
    const flags = command.options.map((o) => o.long).filter((f): f is string => Boolean(f));
    tree.set(path, [...new Set([...subcommands, ...flags, ...(path ? globalFlags : []), '--help'])]);
    for (const sub of command.commands) walk(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  walk(program, '');
  return tree;
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

export function bashCompletion(tree: Map<string, string[]>): string {
  const entries = [...tree].map(([path, words]) => `  [${quote(path || '.')}]=${quote(words.join(' '))}`).join('\n');
  return `# shipyard completion (bash): eval "$(shipyard completion bash)", or save it in /etc/bash_completion.d/shipyard
declare -gA _shipyard_words=(
${entries}
)
_shipyard() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word candidate i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ $word == -* ]] && continue
    candidate="\${path:+$path }$word"
    [[ -n "\${_shipyard_words[$candidate]+set}" ]] && path="$candidate"
  done
  COMPREPLY=($(compgen -W "\${_shipyard_words[\${path:-.}]}" -- "$cur"))
}
complete -o default -F _shipyard shipyard
`;
}

export function zshCompletion(tree: Map<string, string[]>): string {
  return `#compdef shipyard
# shipyard completion (zsh): eval "$(shipyard completion zsh)" in ~/.zshrc
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(tree)}`;
}
