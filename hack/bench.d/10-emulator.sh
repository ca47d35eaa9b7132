#!/usr/bin/env bash
# Emulator throughput and memory: GET/s against an axum baseline in the same run.
exec "$(dirname "$0")/../bench-emulator.sh"
