#!/usr/bin/env bash
# The action's verdict, after the report and the comment are written: fails the step when kvsync
# failed (exit 1) or, for `drift`, when it found drift (exit 2). A plan with changes (exit 2)
# passes: `has-changes` tells the next steps.
#
# Environment: INPUT_COMMAND and KVSYNC_EXIT_CODE (run.sh's `exit-code` output).
set -euo pipefail

command="${INPUT_COMMAND:-plan}"
code="${KVSYNC_EXIT_CODE:-}"

case "$code" in
  0) exit 0 ;;
  2)
    if [[ "$command" == drift ]]; then
      printf '::error title=kvsync drift::drift found: the live namespaces differ from the config (see the job summary)\n'
      exit 2
    fi
    exit 0
    ;;
  "")
    printf '::error title=kvsync::kvsync did not run (see the log above)\n'
    exit 1
    ;;
  *)
    printf '::error title=kvsync %s::kvsync %s failed with exit code %s (see the log above)\n' "$command" "$command" "$code"
    exit 1
    ;;
esac
