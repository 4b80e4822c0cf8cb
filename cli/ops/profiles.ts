// Where the CLI connects: SHIPYARD_API_URL + SHIPYARD_API_KEY, or a named profile kept in the
// user's config directory ($XDG_CONFIG_HOME/shipyard/config.yaml, ~/.config by default). The
// file holds API keys, so it is written readable by its owner only (0600, in a 0700 directory).
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { UsageError } from './exit-codes';

export interface Profile {
  url: string;
  key: string;
}

export interface ProfileFile {
  /** The profile used when neither `--profile` nor SHIPYARD_API_URL/KEY say otherwise. */
  current?: string;
  profiles: Record<string, Profile>;
}

export function configPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), '.config');
  return join(base, 'shipyard', 'config.yaml');
}

export function readProfiles(path: string): ProfileFile {
  if (!existsSync(path)) return { profiles: {} };
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  const file = (parsed ?? {}) as Partial<ProfileFile>;
  const profiles: Record<string, Profile> = {};
  for (const [name, p] of Object.entries(file.profiles ?? {})) {
    if (typeof p?.url !== 'string' || typeof p?.key !== 'string') throw new UsageError(`${path}: profile "${name}" needs a url and a key`);
    profiles[name] = { url: p.url, key: p.key };
  }
  return { ...(typeof file.current === 'string' ? { current: file.current } : {}), profiles };
}

export function writeProfiles(path: string, file: ProfileFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Written aside and renamed, so a reader never sees half a file; 0600 from its first byte.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, toYaml(file), { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/** Adds or replaces a profile; the first one saved becomes the current one. */
export function setProfile(file: ProfileFile, name: string, profile: Partial<Profile>): ProfileFile {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new UsageError(`profile name "${name}": letters, digits, ".", "_" and "-" only`);
  const merged = { ...file.profiles[name], ...profile };
  if (!merged.url || !merged.key) throw new UsageError(`profile "${name}" needs both --url and --key`);
  validUrl(merged.url);
  return { current: file.current ?? name, profiles: { ...file.profiles, [name]: { url: merged.url, key: merged.key } } };
}

function validUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`"${url}" is not a URL (e.g. https://shipyard.example.com)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`"${url}": the API's URL is http or https`);
}

export interface Connection extends Profile {
  /** Where it came from, for messages: `profile "prod"` or `SHIPYARD_API_URL/SHIPYARD_API_KEY`. */
  source: string;
}

/**
 * The connection to use: `--profile` (or SHIPYARD_PROFILE) names one outright; else the
 * environment's URL and key; else the current profile of the file.
 */
export function resolveConnection(env: NodeJS.ProcessEnv, file: ProfileFile, profileFlag?: string): Connection {
  const named = profileFlag ?? env.SHIPYARD_PROFILE?.trim();
  if (named) {
    const profile = file.profiles[named];
    if (!profile) throw new UsageError(`no profile "${named}"${listOf(file)}; add it with \`shipyard config set-profile ${named} --url … --key …\``);
    return { ...profile, source: `profile "${named}"` };
  }
  const url = env.SHIPYARD_API_URL?.trim();
  const key = env.SHIPYARD_API_KEY?.trim();
  if (url || key) {
    if (!url || !key) throw new UsageError(`set both SHIPYARD_API_URL and SHIPYARD_API_KEY (only ${url ? 'the URL' : 'the key'} is set)`);
    validUrl(url);
    return { url, key, source: 'SHIPYARD_API_URL/SHIPYARD_API_KEY' };
  }
  const current = file.current ? file.profiles[file.current] : undefined;
  if (current) return { ...current, source: `profile "${file.current}"` };
  throw new UsageError('no API to talk to: set SHIPYARD_API_URL and SHIPYARD_API_KEY, or `shipyard config set-profile <name> --url … --key …`');
}

const listOf = (file: ProfileFile) => {
  const names = Object.keys(file.profiles);
  return names.length ? ` (profiles: ${names.join(', ')})` : '';
};

/** A key as listings show it: enough to recognise, not to use. */
export const maskKey = (key: string): string => (key.length <= 10 ? '…' : `${key.slice(0, 10)}…`);
