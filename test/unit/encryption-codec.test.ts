// The payload codec on its own: what it writes, what it reads back, rotation and the errors an
// operator sees for a missing or wrong key.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EncryptionCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../temporal/encryption-codec';

const key = (id: string) => ({ id, key: randomBytes(32).toString('base64') });
const a = key('a');
const b = key('b');
const secret = { ownerEmail: 'ceo@secret-customer.test', name: 'Secret Customer' };
const plain = defaultPayloadConverter.toPayload(secret);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('EncryptionCodec', () => {
  it('writes binary/encrypted payloads naming the key id, with nothing of the value in clear', async () => {
    const [encrypted] = await new EncryptionCodec([a]).encode([plain]);
    expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted!.metadata![KEY_ID_METADATA])).toBe('a');
    expect(text(encrypted!.data)).not.toContain('secret-customer');
    expect(Object.keys(encrypted!.metadata!)).toEqual(['encoding', KEY_ID_METADATA]);
  });

  it('uses a fresh nonce per payload: the same value never encrypts the same way twice', async () => {
    const [one, two] = await new EncryptionCodec([a]).encode([plain, plain]);
    expect(Buffer.from(one!.data!).equals(Buffer.from(two!.data!))).toBe(false);
  });

  it('decodes what it encoded back to the original payload', async () => {
    const codec = new EncryptionCodec([a]);
    const [decoded] = await codec.decode(await codec.encode([plain]));
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(secret);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
  });

  it('passes payloads that were never encrypted through (histories from before encryption)', async () => {
    const [decoded] = await new EncryptionCodec([a]).decode([plain]);
    expect(decoded).toBe(plain);
  });

  it('rotation: with B put first, A-encrypted payloads still decode and new ones use B', async () => {
    const old = await new EncryptionCodec([a]).encode([plain]);
    const rotated = new EncryptionCodec([b, a]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode(old))[0]!)).toEqual(secret);
    const [fresh] = await rotated.encode([plain]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('b');
  });

  it('names the key id it lacks, and the id of a key whose bytes are wrong', async () => {
    const old = await new EncryptionCodec([a]).encode([plain]);
    await expect(new EncryptionCodec([b]).decode(old)).rejects.toThrow(
      'payload was encrypted with key id "a", which is not in SHIPYARD_ENCRYPTION_KEYS (known ids: b)',
    );
    await expect(new EncryptionCodec([{ id: 'a', key: b.key }]).decode(old)).rejects.toThrow(/key id "a" does not decrypt/);
    const unlabelled = { ...old[0]!, metadata: { encoding: old[0]!.metadata!.encoding! } };
    await expect(new EncryptionCodec([a]).decode([unlabelled])).rejects.toThrow(`carries no "${KEY_ID_METADATA}" metadata`);
  });

  it('refuses a payload relabelled with another key id', async () => {
    const [encrypted] = await new EncryptionCodec([a]).encode([plain]);
    const relabelled = { ...encrypted!, metadata: { ...encrypted!.metadata!, [KEY_ID_METADATA]: Buffer.from('b') } };
    await expect(new EncryptionCodec([a, { id: 'b', key: a.key }]).decode([relabelled])).rejects.toThrow(/key id "b" does not decrypt/);
  });
});
