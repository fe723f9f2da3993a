#!/usr/bin/env bash
# Runs one kvsync command the way the action does and reports it to the runner:
#   validate  --format github: each problem becomes an annotation on its file and line
#   plan      --format markdown --detailed-exitcode --out <plan file> [--baseline <file>]
#   drift     --format markdown (exit 2 means drift)
#   apply     the saved plan named in `args` (refused when stale), else --auto-approve
# The report goes to the log, to $GITHUB_STEP_SUMMARY (capped at the 1 MiB a step summary
# holds), to a file for comment.sh, and the results to $GITHUB_OUTPUT:
#   exit-code    kvsync's exit code (0 nothing to do, 1 error, 2 changes or drift)
#   has-changes  plan: the plan changes something; apply: something was written or deleted;
#                drift: the same as has-drift
#   has-drift    drift: drift found; plan with a baseline: a change is drift already live
#   plan-file    plan: the saved plan, for `kvsync apply FILE`
#   summary      the Markdown report (at most 64 KiB)
#   report-file, config-path  for comment.sh
# This script only fails on a usage error: whether the job fails is finish.sh's decision, so the
# pull-request comment is still written when kvsync fails.
#
# Environment: INPUT_COMMAND, INPUT_CONFIG, INPUT_ENVIRONMENT, INPUT_ARGS (split on whitespace),
# INPUT_BASELINE (a path or a git ref; plan only), and the runner's GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE, RUNNER_TEMP. KVSYNC_BIN overrides the `kvsync` on PATH.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
kvsync="${KVSYNC_BIN:-kvsync}"

fail() {
  printf '::error title=kvsync::%s\n' "$*"
  exit 1
}

command="${INPUT_COMMAND:-plan}"
config="${INPUT_CONFIG:-kvsync.yaml}"
environment="${INPUT_ENVIRONMENT:-}"
baseline="${INPUT_BASELINE:-}"
case "$command" in
  validate | plan | apply | drift) ;;
  *) fail "\`command\` must be validate, plan, apply or drift, not \`$command\`" ;;
esac
read -r -a extra <<<"$(printf '%s' "${INPUT_ARGS:-}" | tr '\r\n\t' '   ')" || true

# Where this run's files go: one folder per config and environment.
slug="$(printf '%s' "$config${environment:+-$environment}" | tr -c 'A-Za-z0-9._-' '-')"
# Git Bash on Windows: bash's own paths inside, Windows paths in outputs for other actions.
unix_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi
}
native_path() {
  if [[ -n "$1" ]] && command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else printf '%s\n' "$1"; fi
}
out_root="$(unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/kvsync"
mkdir -p "$out_root"
work="$(mktemp -d "$out_root/$slug.XXXXXX")"
report="$work/report.md"
: >"$report"

# The config's path inside the repository, for annotations and the comment's marker.
workspace="${GITHUB_WORKSPACE:-}"
here_in_repo=""
if [[ -n "$workspace" ]]; then
  workspace="$(cd "$(unix_path "$workspace")" && pwd -P)"
  cwd="$(pwd -P)"
  if [[ "$cwd" == "$workspace" ]]; then
    here_in_repo=""
  elif [[ "$cwd" == "$workspace"/* ]]; then
    here_in_repo="${cwd#"$workspace"/}"
  fi
fi
config_path="${config#./}"
if [[ -n "$here_in_repo" && "$config_path" != /* ]]; then
  config_path="$here_in_repo/$config_path"
fi

common=(-c "$config")
[[ -n "$environment" ]] && common+=(--env "$environment")

# Reads the first `limit` bytes of a file, ending on a whole line.
head_lines() {
  local file="$1" limit="$2"
  head -c "$limit" "$file" | sed '$d'
}

# Appends a report to a Markdown file that may hold at most `limit` bytes, cutting it at a line
# with a note when it does not fit.
append_capped() {
  local file="$1" target="$2" limit="$3" note="$4"
  local used=0 size
  [[ -f "$target" ]] && used="$(wc -c <"$target" | tr -d ' ')"
  size="$(wc -c <"$file" | tr -d ' ')"
  if ((used + size <= limit)); then
    cat "$file" >>"$target"
    return 0
  fi
  local room=$((limit - used - ${#note} - 64))
  if ((room > 0)); then
    head_lines "$file" "$room" >>"$target"
    close_open_blocks "$file" "$room" >>"$target"
  fi
  printf '\n\n%s\n' "$note" >>"$target"
  return 1
}

# After a cut: closes a code fence and <details> blocks left open, so the note renders.
close_open_blocks() {
  head_lines "$1" "$2" | awk '
    /^[[:space:]]*```/ { fence = !fence }
    /<details>/ { open++ }
    /<\/details>/ { open-- }
    END {
      if (fence) print "```"
      for (; open > 0; open--) print "</details>"
    }'
}

set_output() {
  [[ -n "${GITHUB_OUTPUT:-}" ]] || return 0
  printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
}

set_output_file() {
  [[ -n "${GITHUB_OUTPUT:-}" ]] || return 0
  local delimiter
  delimiter="kvsync_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  {
    printf '%s<<%s\n' "$1" "$delimiter"
    cat "$2"
    # One newline before the delimiter, whether or not the value ends with one.
    if [[ -n "$(tail -c 1 "$2")" ]]; then printf '\n'; fi
    printf '%s\n' "$delimiter"
  } >>"$GITHUB_OUTPUT"
}

# Rewrites annotation paths from the working directory's view to the repository's, which is
# what GitHub matches against the diff.
repo_annotations() {
  local line rest path
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ ^::(error|warning|notice)\ file=([^,:]*)(.*)$ ]]; then
      path="${BASH_REMATCH[2]}"
      rest="${BASH_REMATCH[3]}"
      if [[ -n "$workspace" && "$path" == "$workspace"/* ]]; then
        path="${path#"$workspace"/}"
      elif [[ -n "$here_in_repo" && "$path" != /* ]]; then
        path="$here_in_repo/${path#./}"
      fi
      line="::${BASH_REMATCH[1]} file=$path$rest"
    fi
    printf '%s\n' "$line"
  done
}

# Markdown for a list of annotations.
annotations_markdown() {
  local line
  while IFS= read -r line; do
    if [[ "$line" =~ ^::(error|warning)\ file=([^,]*),line=([0-9]+)(,col=([0-9]+))?[^:]*::(.*)$ ]]; then
      printf -- '- **%s** `%s:%s%s`: %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" \
        "${BASH_REMATCH[3]}" "${BASH_REMATCH[5]:+:${BASH_REMATCH[5]}}" "${BASH_REMATCH[6]}"
    elif [[ "$line" =~ ^::(error|warning)[^:]*::(.*)$ ]]; then
      printf -- '- **%s** %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    fi
  done
}

# Prints a file to the log with workflow commands off, so that nothing a config holds (a value
# in a diff, a key in an error) can be taken by the runner for a command.
print_inert() {
  local token
  token="kvsync-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  printf '::stop-commands::%s\n' "$token"
  cat "$1"
  printf '::%s::\n' "$token"
}

# Runs kvsync: stdout to $1 (and to the log unless it holds annotations), stderr to the log and
# to $work/stderr. Sets `code`.
run_kvsync() {
  local stdout="$1" show="$2"
  shift 2
  printf '::group::kvsync'
  printf ' %q' "$@"
  printf '\n'
  code=0
  "$kvsync" "$@" >"$stdout" 2>"$work/stderr" || code=$?
  if [[ "$show" == show ]]; then
    print_inert "$stdout"
  fi
  printf '::endgroup::\n'
  print_inert "$work/stderr" >&2
  printf 'kvsync exited with %s\n' "$code"
}

# Markdown for a failed run: the end of what kvsync printed on stderr.
failure_markdown() {
  printf '### kvsync %s failed (exit %s)\n\n' "$command" "$code"
  printf 'Config `%s`%s.\n\n' "$config_path" "${environment:+, environment \`$environment\`}"
  if [[ -s "$work/stderr" ]]; then
    printf '```text\n'
    tail -n 40 "$work/stderr" | sed 's/^```/` ``/'
    printf '```\n'
  fi
}

# When plan, drift or apply fail, a config problem is easier to fix as an annotation on its line.
annotate_config_problems() {
  local annotations="$work/validate.txt"
  "$kvsync" validate "${common[@]}" --format github >"$annotations" 2>/dev/null || true
  if grep -q '^::' "$annotations"; then
    repo_annotations <"$annotations"
    {
      printf '\nProblems in the config:\n\n'
      repo_annotations <"$annotations" | annotations_markdown
    } >>"$report"
  fi
}

has_changes=false
has_drift=false
plan_file=""
code=0

case "$command" in
  validate)
    run_kvsync "$work/annotations.txt" annotations validate "${common[@]}" --format github ${extra[@]+"${extra[@]}"}
    # The runner turns these lines on stdout into annotations.
    repo_annotations <"$work/annotations.txt" >"$work/annotations.repo.txt"
    cat "$work/annotations.repo.txt"
    if ((code == 0)); then
      printf '### kvsync validate: `%s` is valid\n' "$config_path" >"$report"
    else
      count="$(grep -c '^::error' "$work/annotations.repo.txt" || true)"
      {
        if ((count > 0)); then
          printf '### kvsync validate: %s problem%s in `%s`\n\n' "$count" "$([[ $count == 1 ]] || echo s)" "$config_path"
          annotations_markdown <"$work/annotations.repo.txt"
        else
          failure_markdown
        fi
      } >"$report"
      if ((count == 0)); then
        printf '::error title=kvsync validate::%s\n' "$(tail -n 1 "$work/stderr" 2>/dev/null || echo "kvsync validate failed (exit $code)")"
      fi
    fi
    ;;

  plan)
    plan_file="$work/plan.json"
    args=(plan "${common[@]}" --format markdown --detailed-exitcode --out "$plan_file")
    if [[ -n "$baseline" ]]; then
      bash "$here/baseline.sh" "$baseline" "$config" "$work/baseline-path"
      baseline_file="$(cat "$work/baseline-path")"
      [[ -n "$baseline_file" ]] && args+=(--baseline "$baseline_file")
    fi
    run_kvsync "$report" show "${args[@]}" ${extra[@]+"${extra[@]}"}
    case "$code" in
      0) ;;
      2) has_changes=true ;;
      *)
        failure_markdown >"$report"
        annotate_config_problems
        ;;
    esac
    if [[ -s "$plan_file" ]]; then
      if [[ "$code" == 2 ]] && grep -q '"tag": *"drift"' "$plan_file"; then
        has_drift=true
      fi
    else
      plan_file=""
    fi
    ;;

  drift)
    run_kvsync "$report" show drift "${common[@]}" --format markdown ${extra[@]+"${extra[@]}"}
    case "$code" in
      0) ;;
      2)
        has_drift=true
        has_changes=true
        ;;
      *)
        failure_markdown >"$report"
        annotate_config_problems
        ;;
    esac
    ;;

  apply)
    # A positional argument in `args` is a saved plan: kvsync applies exactly it or refuses.
    saved=""
    skip=false
    for arg in ${extra[@]+"${extra[@]}"}; do
      if $skip; then
        skip=false
        continue
      fi
      case "$arg" in
        -c | --config | -e | --env | --only | --take-over | --max-deletes | --target | \
          --local-path | --api-url | --format | --revision | --color)
          skip=true
          ;;
        -*) ;;
        *) saved="$arg" ;;
      esac
    done
    args=(apply "${common[@]}")
    [[ -z "$saved" ]] && args+=(--auto-approve)
    run_kvsync "$work/apply.txt" show "${args[@]}" ${extra[@]+"${extra[@]}"}
    if [[ "$code" == 0 ]]; then
      if grep -Eq 'Apply complete: ([1-9][0-9]* written|[0-9]+ written, [1-9])' "$work/apply.txt"; then
        has_changes=true
      fi
      {
        printf '### kvsync apply: `%s`%s\n\n' "$config_path" "${environment:+ (\`$environment\`)}"
        [[ -n "$saved" ]] && printf 'Applied the saved plan `%s`.\n\n' "$saved"
        printf '```text\n'
        sed 's/^```/` ``/' "$work/apply.txt"
        printf '```\n'
      } >"$report"
    else
      failure_markdown >"$report"
      annotate_config_problems
    fi
    ;;
esac

# The job summary: one step may write at most 1 MiB to it.
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  note="> **Note:** the report was cut here to fit the 1 MiB a job summary holds; the whole report is in the log of the kvsync step."
  append_capped "$report" "$GITHUB_STEP_SUMMARY" 1048576 "$note" || true
fi

# The `summary` output: the same report, kept small enough for job outputs.
summary="$work/summary.md"
: >"$summary"
append_capped "$report" "$summary" 65536 "> **Note:** cut at 64 KiB; the whole report is in the job summary." || true

set_output exit-code "$code"
set_output has-changes "$has_changes"
set_output has-drift "$has_drift"
set_output plan-file "$(native_path "$plan_file")"
set_output report-file "$(native_path "$report")"
set_output config-path "$config_path"
set_output_file summary "$summary"
exit 0
