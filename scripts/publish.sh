#!/usr/bin/env bash
# Publishes the runnable programs into out/bin: klais-edge, klais-loadgen, klais-devcluster, klais-silo, klais-xdp.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
mkdir -p out/bin
for p in src/Klais.Edge src/Klais.LoadGen src/Klais.DevCluster src/Klais.Silo tools/Klais.XdpTool tools/Klais.Cli; do
  dotnet publish "$p" -c "$config" -o out/bin -nologo -v:q >/dev/null
done
echo "publish: out/bin/{klais-edge,klais-loadgen,klais-devcluster,klais-silo,klais-xdp,klais}"
