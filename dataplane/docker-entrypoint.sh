#!/bin/sh
# Entrypoint of the tcp-shift data-plane image: picks the program from the first argument.
#
#   IMAGE gateway --config FILE [--admin HOST:PORT] [--drain-seconds N]   tcp-gateway
#   IMAGE echo <port[,port...]> <prefix>                                  tcp-echo
#   IMAGE <port[,port...]> <prefix>                                       tcp-echo, with the
#         arguments of Istio's istio/tcp-echo-server image, so the Istio sample Deployments'
#         `args: ["9000", "one"]` work unchanged with this image.
#
# `exec` makes node PID 1, so SIGTERM from the kubelet reaches the program's drain handler.
set -eu
case "${1:-}" in
  gateway)
    shift
    # Flags and environment: dataplane/gateway/gatewayNodeFlags.ts (memory footprint, p99).
    export MALLOC_ARENA_MAX=1
    exec node --max-semi-space-size=1 /app/dist/dataplane/gateway/gatewayMain.js "$@"
    ;;
  echo)
    shift
    exec node /app/dist/dataplane/echo/echoMain.js "$@"
    ;;
  *)
    exec node /app/dist/dataplane/echo/echoMain.js "$@"
    ;;
esac
