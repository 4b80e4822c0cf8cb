// `npm run client:generate`: rewrites client/openapi.d.ts from the routes' schemas (no server needed).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { clientTypesPath, clientTypesSource } from './client-types';

const after = await clientTypesSource();
const before = existsSync(clientTypesPath) ? readFileSync(clientTypesPath, 'utf8') : '';
if (after === before) {
  console.log('client/openapi.d.ts is up to date');
} else {
  writeFileSync(clientTypesPath, after);
  console.log('client/openapi.d.ts rewritten');
}
