// Brings the real local parts up once for the whole run and hands their addresses to the
// test processes through the environment (forks inherit it).
import { infraUp } from '../testbed/index';

export default async function setup(): Promise<void> {
  const env = await infraUp();
  for (const [key, value] of Object.entries(env)) {
    process.env[key] ??= value;
  }
}
