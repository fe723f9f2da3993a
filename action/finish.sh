#!/usr/bin/env bash
# The action's verdict, after the report and the comment are written: fails the step when kvsync
# failed or apply would refuse the plan (exit 1) or, for `drift`, when it found drift (exit 2).
# A plan with changes (exit 2) passes: `has-changes` tells the next steps.
#
# Environment: INPUT_COMMAND, KVSYNC_EXIT_CODE and KVSYNC_HAS_CHANGES (run.sh's outputs).
set -euo pipefail

command="${INPUT_COMMAND:-plan}"
code="${KVSYNC_EXIT_CODE:-}"
has_changes="${KVSYNC_HAS_CHANGES:-false}"

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
    if [[ "$code" == 1 && "$command" == plan && "$has_changes" == true ]]; then
      printf '::error title=kvsync plan::apply would refuse this plan (the job summary says why)\n'
    else
      printf '::error title=kvsync %s::kvsync %s failed with exit code %s (see the log above)\n' "$command" "$command" "$code"
    fi
    exit 1
    ;;
esac
