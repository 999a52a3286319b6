#!/usr/bin/env bash
# Installs what KLAIS needs on a Debian machine, skipping what is already there. Idempotent:
# `make demo` and `make test` call it every time, so it must be fast when nothing is missing.
set -euo pipefail

# Native librdkafka (Confluent.Kafka's runtime and the mock cluster), kcat for poking at topics,
# clang/llvm/libbpf/bpftool for the XDP program (clang also links the NativeAOT klais-edge; the ILCompiler package
# brings its own zlib), iproute2 for namespaces and veth pairs in tests,
# curl and jq for the demo and bench scripts, redis-server for the silos' membership, grain state and reminders
# (tests and the demo start their own on a free port; the package's system service is never used).
packages=(librdkafka1 librdkafka-dev kcat clang llvm libbpf-dev libbpf1 bpftool iproute2 procps curl jq redis-server chromium)

. "$(dirname "$0")/lib.sh"
ensure_packages setup "${packages[@]}"

# The linker cache, read once: `ldconfig -p | grep -q` fails under pipefail whenever grep stops reading before
# ldconfig has written everything (SIGPIPE), which a large cache makes likely.
libraries=$(ldconfig -p)

# Confluent.Kafka P/Invokes "librdkafka"; Debian ships librdkafka.so.1 (and the .so link with -dev).
if ! grep -q 'librdkafka\.so\.1' <<<"$libraries"; then
  echo "setup: librdkafka.so.1 not found after install" >&2; exit 1
fi

# Klais.Xdp imports Debian's libbpf by its soname, libbpf.so.1 (package libbpf1); the build needs clang for bpf/.
if ! grep -q 'libbpf\.so\.1' <<<"$libraries"; then
  echo "setup: libbpf.so.1 not found after install" >&2; exit 1
fi
if ! command -v clang >/dev/null 2>&1; then
  echo "setup: clang not found after install (bpf/ and the NativeAOT klais-edge need it)" >&2; exit 1
fi

# Debian starts the package's redis-server service on 6379 at install where an init system runs; KLAIS never uses it
# (its tests and demo start their own on free ports). Nothing to do here: a service left running is the operator's.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: redis-server not found after install" >&2; exit 1
fi
