// Pages are addressed by the URL's fragment (#/instances/acme): the API serves one file at /ui/,
// and a reload or a shared link opens the same page. The key is never part of it.
import { useEffect, useState } from 'preact/hooks';

export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const changed = () => setParts(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return parts;
}

export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`;

export const go = (...parts: string[]): void => {
  location.hash = href(...parts);
};
