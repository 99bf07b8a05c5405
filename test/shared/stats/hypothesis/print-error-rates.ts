// Prints the measured false-positive rates and power: npx tsx test/shared/stats/hypothesis/print-error-rates.ts
import { errorRates } from './simulate.js';

for (const [name, r] of Object.entries(errorRates())) {
  process.stdout.write(
    `${name.padEnd(30)} ${(r.rate * 100).toFixed(1).padStart(5)} %  (n per arm ${r.perArm}, ${r.looks} looks, ${r.runs} runs)\n`,
  );
}
