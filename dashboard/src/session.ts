// The API key lives in this tab's sessionStorage only: gone when the tab closes, never written to
// localStorage, a cookie or a URL.
const KEY = 'shipyard.apiKey';

export const storedKey = (): string | null => sessionStorage.getItem(KEY);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY);
