// Process shell for the CLI: wires real stdio and exit codes to the pure dispatcher.
import { main } from './main.js';

const code = await main({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
process.exitCode = code;
