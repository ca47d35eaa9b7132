#!/usr/bin/env bash
# README's main command must keep working: run `make demo` end to end.
exec "$(dirname "$0")/../demo.sh"
