#!/usr/bin/env bash
# Publishes the runnable programs into out/bin: klais-edge, klais-loadgen, klais-devcluster, klais-silo, klais-xdp.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
mkdir -p out/bin
for p in src/Klais.Edge src/Klais.LoadGen src/Klais.DevCluster tools/Klais.XdpTool tools/Klais.Cli; do
  dotnet publish "$p" -c "$config" -o out/bin -nologo -v:q >/dev/null
done
# klais-silo with this machine's runtime identifier: ONNX Runtime ships native libraries for seven platforms, and a
# publish without one copies all of them (about 240 MB); with it, only libonnxruntime.so (65 MB in all).
case "$(uname -m)" in aarch64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac
dotnet publish src/Klais.Silo -c "$config" -r "$rid" --self-contained false -o out/bin -nologo -v:q >/dev/null
echo "publish: out/bin/{klais-edge,klais-loadgen,klais-devcluster,klais-silo,klais-xdp,klais}"
