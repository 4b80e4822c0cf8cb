// How a setting is declared, read from the environment and documented. The settings themselves
// are listed once in domain/config.ts; the typed Config, the reading of the environment and the
// README's table all come from that list, so none of the three can forget a setting.
import { type Static, type TSchema, Type } from 'typebox';

export type Env = Readonly<Record<string, string | undefined>>;

export const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** What a custom reader found: the value for the schema, and problems it can word better than the schema. */
export interface Read {
  value: unknown;
  problems?: string[];
}

export interface Setting<S extends TSchema = TSchema> {
  /** The environment variable, named in every error about it. */
  env: string;
  schema: S;
  /** Used when the variable is unset; a function when it follows earlier settings (already read, not yet validated). */
  default?: Static<S> | ((earlier: Readonly<Record<string, unknown>>) => Static<S>);
  /** The README's default column, when the default value alone would not say it. */
  defaultDoc?: string;
  /** The README's meaning column. */
  doc: string;
  /** For a value that is not one number, boolean or text (lists, JSON, ...): reads the variable, set or not. */
  parse?: (raw: string | undefined, env: Env) => Read;
  /** Variables only this setting's parse reads (no setting of their own), documented beside it. */
  alongside?: { env: string; defaultDoc: string; doc: string }[];
}

/** Declares one setting; a function so that each default is checked against its own schema. */
export function setting<S extends TSchema>(declared: Setting<S>): Setting<S> {
  return declared;
}

/** The schema of each setting under its key: what Type.Object makes the Config type of. */
export function schemasOf<T extends Record<string, Setting>>(settings: T): { [K in keyof T]: T[K]['schema'] } {
  // Object.fromEntries loses the keys' types; the mapped return type says what it built.
  return Object.fromEntries(Object.entries(settings).map(([key, s]) => [key, s.schema])) as { [K in keyof T]: T[K]['schema'] };
}

/**
 * One setting's value from the environment, still to be validated. An empty variable counts as
 * unset, except for required text, where it stays empty so the schema reports it (as it always
 * has; a blank `SHIPYARD_API_HOST=` is more likely a mistake than a wish for the default).
 * Numbers and booleans that do not parse become NaN or stay text, so the schema names the variable.
 */
export function readSetting(s: Setting, env: Env, earlier: Readonly<Record<string, unknown>>): Read {
  const raw = env[s.env];
  if (s.parse) return s.parse(raw, env);
  const keepsEmpty = Type.IsString(s.schema) && !Type.IsOptional(s.schema);
  if (raw === undefined || (raw === '' && !keepsEmpty)) {
    return { value: typeof s.default === 'function' ? s.default(earlier) : s.default };
  }
  if (Type.IsInteger(s.schema)) return { value: /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN };
  if (Type.IsNumber(s.schema)) return { value: /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN };
  if (Type.IsBoolean(s.schema)) return { value: raw === 'true' ? true : raw === 'false' ? false : raw };
  return { value: raw };
}

export const TABLE_START = '<!-- config-table:start (generated from domain/config.ts by `npm run docs:config`) -->';
export const TABLE_END = '<!-- config-table:end -->';

/** The README's table of variables, one row per variable, in the order of the declarations. */
export function settingsTable(settings: Readonly<Record<string, Setting>>): string {
  const rows = Object.values(settings).flatMap((s) => [
    [s.env, defaultColumn(s), s.doc],
    ...(s.alongside ?? []).map((a) => [a.env, a.defaultDoc, a.doc]),
  ]);
  return [
    '| variable | default | meaning |',
    '| --- | --- | --- |',
    ...rows.map(([env, fallback, doc]) => `| \`${env}\` | ${fallback} | ${(doc ?? '').replaceAll('|', '\\|')} |`),
  ].join('\n');
}

/** Bounds a reader would not guess are shown beside the default; a port's range goes without saying. */
function defaultColumn(s: Setting): string {
  if (s.defaultDoc !== undefined) return s.defaultDoc;
  if (s.default === undefined) return Type.IsOptional(s.schema) ? '—' : '— (required)';
  const shown = `\`${typeof s.default === 'object' ? JSON.stringify(s.default) : String(s.default)}\``;
  const maximum = Type.IsInteger(s.schema) && s.schema !== Port && 'maximum' in s.schema ? s.schema.maximum : undefined;
  return maximum === undefined ? shown : `${shown} (at most ${String(maximum)})`;
}

/** The README with its table between the markers replaced; throws when the markers are missing. */
export function withSettingsTable(readme: string, table: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no "${TABLE_START}" … "${TABLE_END}" region`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}
