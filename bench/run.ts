// `npm run bench [-- --quick | --full] [--only=api,send,memory,pairing,cold,events] [--out=FILE] [--json=FILE]
//   [--profile] [--keep] [--log-level=LEVEL] [--database-url=URL]`
// Writes BENCHMARKS.md (the generated part; the text around it is kept). `--cold-baseline` is not for
// people: the cold-start scenario launches its baseline app through it, the same way `npm start` runs.
const argv = process.argv.slice(2);
if (argv.includes('--cold-baseline')) {
  const { runColdBaseline } = await import('./procs/cold-baseline.js');
  await runColdBaseline();
} else {
  const { cli } = await import('./cli.js');
  process.exitCode = await cli(argv);
}
