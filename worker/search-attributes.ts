// Shipyard's search attributes (domain/search-attributes.ts), registered at worker start through
// Temporal's operator service: idempotent, so every worker may try, and two at once are fine. Where
// the operator service is not open to Shipyard's credentials (Temporal Cloud, a locked-down
// cluster) the chart's hook Job or an operator registers them instead; until then runs start
// without them, and this says so once, naming the command that fixes it.
import type { Client } from '@temporalio/client';
import protos from '@temporalio/proto';
import type { Config } from '../domain/config';
import { searchAttributeNames } from '../domain/search-attributes';

const KEYWORD = protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
const GRPC_ALREADY_EXISTS = 6;

export type SearchAttributesReadiness = { registered: true; added: string[] } | { registered: false; reason: string; fix: string };

/** The command an operator runs to register them by hand. */
export const registerCommand = (namespace: string): string =>
  `temporal operator search-attribute create --namespace ${namespace} ${searchAttributeNames.map((name) => `--name ${name} --type Keyword`).join(' ')}`;

export async function ensureSearchAttributes(client: Client, config: Pick<Config, 'temporalNamespace'>): Promise<SearchAttributesReadiness> {
  const namespace = config.temporalNamespace;
  const operator = client.connection.operatorService;
  try {
    const { customAttributes } = await operator.listSearchAttributes({ namespace });
    const missing = searchAttributeNames.filter((name) => !(name in (customAttributes ?? {})));
    if (missing.length === 0) return { registered: true, added: [] };
    try {
      await operator.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])) });
    } catch (err) {
      // Another worker registered them between our listing and our adding.
      if ((err as { code?: number }).code !== GRPC_ALREADY_EXISTS) throw err;
    }
    return { registered: true, added: missing };
  } catch (err) {
    return { registered: false, reason: err instanceof Error ? err.message : String(err), fix: registerCommand(namespace) };
  }
}
