#!/usr/bin/env bash
# Publishes the runnable programs into out/bin: klais-edge, klais-loadgen, klais-devcluster, klais-silo.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
mkdir -p out/bin
for p in Klais.Edge Klais.LoadGen Klais.DevCluster Klais.Silo; do
  dotnet publish "src/$p" -c "$config" -o out/bin -nologo -v:q >/dev/null
done
echo "publish: out/bin/{klais-edge,klais-loadgen,klais-devcluster,klais-silo}"
