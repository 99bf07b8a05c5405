// The dashboard's one way to the controller: the typed API client (controller/api/client.ts, its
// types from the route schemas) on the page's own origin, with the session cookie and the CSRF
// token on every change. Errors are BmfErrors: the pages show their code and message.
import { createControllerClient } from '../../api/client.js';

let csrf = '';

export function setCsrf(token) {
  csrf = token;
}

export const api = createControllerClient({
  baseUrl: '',
  credentials: 'same-origin',
  headers: (method) => ({
    accept: 'application/json',
    ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }),
  }),
});

/** The query without empty form fields (an empty filter means no filter). */
export function filled(params) {
  return Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
}
