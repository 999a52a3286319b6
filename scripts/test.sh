#!/usr/bin/env bash
# Runs every test project and closes with one line: "tests: N passed, N failed, N skipped".
# Privileged tests (namespaces, XDP) need root; with KLAIS_REQUIRE_PRIVILEGED=1 (CI) a skip is a failure.
set -uo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
results=artifacts/test-results
rm -rf "$results"; mkdir -p "$results"

status=0
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name"
  # --blame: when a test host dies, the log names the tests that were running; a test hung for 15 min fails the run
  # instead of eating the CI's time (no dump: it would be gigabytes).
  dotnet test "$proj" -c "$config" --no-build -nologo \
    --blame --blame-hang-timeout 15m --blame-hang-dump-type none \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    --logger "console;verbosity=minimal" || status=1
done

# Sum the counters of every TRX file.
read -r total passed failed skipped < <(
  for f in "$results"/*.trx; do
    grep -o '<Counters [^>]*>' "$f"
  done | awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); gsub(/"/, "", kv[2]); c[kv[1]] += kv[2] } }
    END { printf "%d %d %d %d\n", c["total"], c["passed"], c["failed"], c["total"] - c["executed"] }')

if [ "${KLAIS_REQUIRE_PRIVILEGED:-0}" = "1" ] && [ "${skipped:-0}" -gt 0 ]; then
  echo "KLAIS_REQUIRE_PRIVILEGED=1 and $skipped test(s) skipped: a skipped privileged test is a failure." >&2
  status=1
fi
if [ "${total:-0}" -eq 0 ]; then
  echo "no test ran" >&2; status=1
fi
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit $status
