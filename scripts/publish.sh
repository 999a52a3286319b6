#!/usr/bin/env bash
# Publishes the runnable programs into out/bin: klais-edge, klais-loadgen, klais-devcluster, klais-silo, klais-xdp.
# klais-edge is compiled ahead of time (NativeAOT: one native executable, no JIT; a third of the JIT build's idle
# memory and a sixth of its start-up, docs/BENCHMARKS.md). KLAIS_EDGE_AOT=0 publishes it for the JIT instead.
set -euo pipefail
config=${1:-Release}
cd "$(dirname "$0")/.."
mkdir -p out/bin
for p in src/Klais.LoadGen src/Klais.DevCluster tools/Klais.XdpTool tools/Klais.Cli; do
  dotnet publish "$p" -c "$config" -o out/bin -nologo -v:q >/dev/null
done
case "$(uname -m)" in aarch64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac
# A JIT build's files left from an earlier publish would sit beside the native executable and mislead.
rm -f out/bin/klais-edge out/bin/klais-edge.dll out/bin/klais-edge.deps.json out/bin/klais-edge.runtimeconfig.json out/bin/klais-edge.pdb out/bin/klais-edge.dbg
if [ "${KLAIS_EDGE_AOT:-1}" = 1 ]; then
  # Its own folder first: the native build also writes the pdbs of its project references, which must not replace
  # the JIT programs' ones in out/bin. clang links it (scripts/setup.sh installs it); zlib comes with the ILCompiler.
  dotnet publish src/Klais.Edge -c "$config" -r "$rid" -p:PublishAot=true -o out/aot -nologo -v:q >/dev/null
  cp out/aot/klais-edge out/bin/klais-edge
else
  dotnet publish src/Klais.Edge -c "$config" -o out/bin -nologo -v:q >/dev/null
fi
# klais-silo with this machine's runtime identifier: ONNX Runtime ships native libraries for seven platforms, and a
# publish without one copies all of them (about 240 MB); with it, only libonnxruntime.so (65 MB in all).
dotnet publish src/Klais.Silo -c "$config" -r "$rid" --self-contained false -o out/bin -nologo -v:q >/dev/null
echo "publish: out/bin/{klais-edge,klais-loadgen,klais-devcluster,klais-silo,klais-xdp,klais}"
