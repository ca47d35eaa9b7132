#!/usr/bin/env bash
# The vendor SDK (igz-mgmt 0.4.2) drives the emulator through every flow of the seed document.
exec "$(dirname "$0")/../conformance.sh"
