#!/usr/bin/env bash
# Runs the whole vitest suite and prints one plain summary line, "N passed, N failed, N skipped",
# taken from vitest's JSON reporter. Exits non-zero when anything failed or nothing ran.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npm run build --silent >/dev/null || { echo "0 passed, 1 failed"; echo "test: build failed" >&2; exit 1; }
# Coverage (and its gate for src/decode and src/flow, see vitest.config.ts) on full runs only.
cov=(); [ $# -eq 0 ] && cov=(--coverage.enabled)
npx vitest run "${cov[@]}" --reporter=default --reporter=json --outputFile.json="$out/report.json" "$@"
rc=$?
if [ ! -s "$out/report.json" ]; then
  echo "0 passed, 1 failed"
  echo "test: vitest wrote no JSON report (exit $rc)" >&2
  exit 1
fi
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const passed = r.numPassedTests, failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  const skipped = r.numPendingTests + r.numTodoTests;
  // A file that failed outside its tests (failed to load, or a beforeAll threw, which vitest
  // reports as skipped tests) counts as one failure, so the line never says 0 failed on a red run.
  const badSuites = r.testResults.filter((s) => s.status === "failed" && !s.assertionResults.some((a) => a.status === "failed")).length;
  // vitest failing with every test green means a coverage threshold (or the runner) failed:
  // count it, so the line never reads 0 failed on a red run.
  const runner = Number(process.argv[2]) !== 0 && failed + badSuites === 0 ? 1 : 0;
  if (runner) console.error("test: vitest exited non-zero with all tests passing (coverage threshold?)");
  console.log(`${passed} passed, ${failed + badSuites + runner} failed, ${skipped} skipped`);
  process.exit(failed + badSuites + runner > 0 || passed === 0 ? 1 : 0);
' "$out/report.json" "$rc"
rc2=$?
[ $rc2 -ne 0 ] && exit $rc2
exit $rc
