// Calls to Shipyard's /v1 with the signed-in key as the bearer token. A refusal arrives as an
// RFC 9457 problem; it is thrown as an ApiProblem so pages can show its title and detail in place.
import { forgetKey, storedKey } from './session';

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

/** Told when the key stops working (401), so the app can ask for one again. */
let onUnauthenticated: () => void = () => {};
export const whenUnauthenticated = (handler: () => void): void => {
  onUnauthenticated = handler;
};

async function problemOf(res: Response): Promise<ApiProblem> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { title?: string; detail?: string };
    return new ApiProblem(res.status, body.title ?? `HTTP ${res.status}`, body.detail);
  } catch {
    return new ApiProblem(res.status, `HTTP ${res.status} ${res.statusText}`, text.slice(0, 300) || undefined);
  }
}

export async function request(method: string, path: string, options: { body?: unknown; key?: string; accept?: string; signal?: AbortSignal } = {}): Promise<Response> {
  const key = options.key ?? storedKey();
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: options.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiProblem(0, 'Shipyard cannot be reached', (err as Error).message);
  }
  if (res.status === 401 && options.key === undefined) {
    forgetKey();
    onUnauthenticated();
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, { body });
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** A query string from the parts given (empty ones left out). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
