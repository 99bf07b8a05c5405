// The HTML page at `/`: a shell the bundled app (app/main.js) renders into. Without a built
// bundle it says how to build one instead of showing a blank page.
const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderShell(opts: { built: boolean; assetDir: string }): string {
  const body = opts.built
    ? '<div id="app"><p>Loading the dashboard…</p></div>\n<script type="module" src="/ui/app.js"></script>'
    : `<main><h1>bmfleet dashboard</h1><p>The dashboard is not built: run <code>npm run build</code> ` +
      `(it writes ${escapeHtml(opts.assetDir)}) and reload.</p></main>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bmfleet</title>
<link rel="icon" href="data:,">
${opts.built ? '<link rel="stylesheet" href="/ui/app.css">' : ''}
</head>
<body>
${body}
</body>
</html>
`;
}
