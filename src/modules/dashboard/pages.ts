import { SIGN_IN_PATH, SIGN_OUT_PATH } from './board.ts';

/**
 * The two small pages of the dashboard's sign-in: plain HTML forms, no script. Every message is escaped; the API
 * key is posted in the body (never in a URL) and never echoed back.
 */
const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const layout = (title: string, body: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Skyloft</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f5f7; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  main { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); width: min(26rem, 90vw); }
  h1 { font-size: 1.25rem; margin-top: 0; }
  label { display: block; margin-bottom: .25rem; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; font-family: monospace; }
  button { margin-top: 1rem; padding: .5rem 1rem; }
  .message { padding: .5rem .75rem; border-radius: 4px; margin-bottom: 1rem; }
  .error { background: #fdecea; color: #8a1c12; }
  .info { background: #e8f1fd; color: #123c73; }
  p.hint { color: #555; font-size: .875rem; }
</style>
</head>
<body><main>${body}</main></body>
</html>
`;

export function signInPage(message?: { kind: 'error' | 'info'; text: string }): string {
  const note = message ? `<div class="message ${message.kind}" role="${message.kind === 'error' ? 'alert' : 'status'}">${escape(message.text)}</div>` : '';
  return layout(
    'Sign in',
    `<h1>Skyloft queue dashboard</h1>
${note}<form method="post" action="${SIGN_IN_PATH}">
  <label for="apiKey">API key or installation key</label>
  <input id="apiKey" name="apiKey" type="password" autocomplete="off" required placeholder="sky_... or skyi_..." autofocus>
  <button type="submit">Sign in</button>
</form>
<p class="hint">With an account's API key you see that account's jobs only: its admins can retry, promote and remove them, its operators and viewers see them read-only. An installation key sees and acts on every account's jobs and queues.</p>`,
  );
}

export function signOutPage(): string {
  return layout(
    'Sign out',
    `<h1>Sign out of the queue dashboard?</h1>
<form method="post" action="${SIGN_OUT_PATH}"><button type="submit">Sign out</button></form>`,
  );
}
