// `npm run bench:codec`: what payload encryption costs per payload (encode + decode, AES-256-GCM
// plus the protobuf framing) at the sizes Shipyard's workflows pass around, in this process.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../temporal/encryption-codec';

const codec = new EncryptionCodec([{ id: 'bench', key: randomBytes(32).toString('base64') }]);
// A provision's input (plan, version, ids) is ~0.5 KiB; a finished operation's step list ~2 KiB.
const sizes = [512, 2 * 1024, 64 * 1024];
const rounds = Number(process.argv[2] ?? 20_000);

for (const size of sizes) {
  const payload = defaultPayloadConverter.toPayload({ text: 'x'.repeat(size) });
  const n = Math.max(200, Math.round((rounds * 512) / size));
  for (let i = 0; i < 500; i++) await codec.decode(await codec.encode([payload])); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await codec.decode(await codec.encode([payload]));
  const micros = Number(process.hrtime.bigint() - started) / 1000 / n;
  console.log(`${String(size).padStart(6)} B payload: ${micros.toFixed(1)} µs per encode + decode (${n} rounds)`);
}
