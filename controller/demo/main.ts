// The end-to-end demo (README's first command). Not built yet: it lands with the A/B experiment work.
console.log('bmfleet demo: not built yet');
process.exitCode = 0;
