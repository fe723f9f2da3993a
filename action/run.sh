#!/usr/bin/env bash
# Runs one kvsync command the way the action does and reports it to the runner:
#   validate  --format github: each problem becomes an annotation on its file and line
#   plan      --format markdown --detailed-exitcode --out <plan file> [--baseline <file>]
#   drift     --format markdown (exit 2 means drift)
#   apply     the saved plan named in `args` (refused when stale), else --auto-approve
#   pull      writes changes made live back into the config files (add `--deep` in `args`);
#             exit 2 means files changed or keys need a person
#
# Where the Markdown report goes, each place with its own size limit:
#   the job summary     1 MiB per step ($GITHUB_STEP_SUMMARY), less what the step wrote already
#   the comment         65,536 characters, less the marker and footer comment.sh adds
#   the `summary` output  61,440 bytes (60 KiB): 64 KiB less 4 KiB for a caller's own lines, so
#                       that the output plus a footer still fits in an issue or comment body
#                       (65,536 characters) and in one environment variable of a `run:` step
#                       (128 KiB on Linux); never more than the comment's budget either
#   the log             the whole report
# kvsync renders the report once per place, for that place's budget (`--markdown-out
# PATH:BUDGET:LABEL`): a report that does not fit is shortened by kvsync, which knows what to
# leave out, and its note names where the whole report is. This script never cuts a report.
# kvsync counts these budgets in UTF-8 bytes, which are never fewer than characters or UTF-16
# units (what GitHub counts), so each budget holds under every limit above. An older kvsync
# without `--markdown-out` prints one rendering (at most 65,536 bytes): it goes where it fits,
# and where it does not, a line says where the report is instead.
#
# Results go to $GITHUB_OUTPUT:
#   exit-code    kvsync's exit code (0 nothing to do, 1 an error or a plan apply would refuse,
#                2 changes or drift)
#   has-changes  plan: the plan changes something (also when apply would refuse it); apply:
#                something was written or deleted; drift: the same as has-drift
#   has-drift    drift: drift found; plan with a baseline: a change is drift already live
#   plan-file    plan: the saved plan, for `kvsync apply FILE`
#   snapshot-file  apply: the snapshot of every key it changed, as it was before, for
#                `kvsync restore FILE` (empty when none was saved); never with sensitive values
#   summary      the Markdown report (at most 60 KiB)
#   ran          the command that ran: `validate` for a plan or drift of a pull request from a
#                fork, which gets no Cloudflare token (below)
#   report-file, config-path  for comment.sh
# This script only fails on a usage error: whether the job fails is finish.sh's decision, so the
# pull-request comment is still written when kvsync fails or apply would refuse the plan.
#
# Pull requests from forks: GitHub gives a `pull_request` run from a fork (or from Dependabot)
# no secrets, so there is no Cloudflare token and a plan cannot list the namespaces. Then plan
# and drift run `kvsync validate` instead, and the job summary says why no plan was made: the
# check stays green unless the config is invalid. The test is "a pull_request event, from a
# fork or Dependabot, without a token": not the missing token alone, because a missing secret
# on a branch of the repository is a mistake that must fail; not the fork alone, because a fork
# may be given a token (a self-hosted runner's environment). `--target local` in `args` needs no
# token, so it always plans.
#
# Environment: INPUT_COMMAND, INPUT_CONFIG, INPUT_ENVIRONMENT, INPUT_ARGS (split on whitespace),
# INPUT_BASELINE (a path or a git ref; plan only), INPUT_COMMENT (whether a comment is wanted),
# CLOUDFLARE_API_TOKEN or CF_API_TOKEN (only whether one is set), and the runner's
# GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_WORKSPACE, GITHUB_EVENT_NAME, GITHUB_EVENT_PATH,
# GITHUB_REPOSITORY, GITHUB_SERVER_URL, GITHUB_RUN_ID, RUNNER_TEMP. KVSYNC_BIN overrides the
# `kvsync` on PATH.
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
  validate | plan | apply | drift | pull) ;;
  *) fail "\`command\` must be validate, plan, apply, drift or pull, not \`$command\`" ;;
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

# The size limits (see the top of this file).
step_summary_limit=1048576
summary_output_limit=61440
comment_limit=65536

# Bytes, not characters: what kvsync counts, and never fewer than GitHub's characters.
byte_length() { LC_ALL=C wc -c <"$1" | tr -d ' '; }
string_bytes() {
  local LC_ALL=C
  printf '%s' "${#1}"
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

# Markdown for a list of annotations: the first 50, so the list fits every place the report
# goes (a config with thousands of problems is one mistake repeated, and the log has them all).
annotations_markdown() {
  local line shown=0 more=0
  while IFS= read -r line; do
    [[ "$line" =~ ^::(error|warning) ]] || continue
    if ((shown >= 50)); then
      more=$((more + 1))
      continue
    fi
    shown=$((shown + 1))
    if [[ "$line" =~ ^::(error|warning)\ file=([^,]*),line=([0-9]+)(,col=([0-9]+))?[^:]*::(.*)$ ]]; then
      printf -- '- **%s** `%s:%s%s`: %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" \
        "${BASH_REMATCH[3]}" "${BASH_REMATCH[5]:+:${BASH_REMATCH[5]}}" "${BASH_REMATCH[6]}"
    elif [[ "$line" =~ ^::(error|warning)[^:]*::(.*)$ ]]; then
      printf -- '- **%s** %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    fi
  done
  if ((more > 0)); then
    printf -- '- and %s more (the log of the kvsync step lists them all)\n' "$more"
  fi
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
# With `--lines-only` the report already lists the problems (kvsync's own Markdown): only the
# annotations are made.
annotate_config_problems() {
  local annotations="$work/validate.txt"
  "$kvsync" validate "${common[@]}" --format github >"$annotations" 2>/dev/null || true
  if grep -q '^::' "$annotations"; then
    repo_annotations <"$annotations"
    [[ "${1:-}" == --lines-only ]] && return
    {
      printf '\nProblems in the config:\n\n'
      repo_annotations <"$annotations" | annotations_markdown
    } >>"$report"
  fi
}

# `kvsync validate --format github`: annotations on stdout for the runner, the report to the
# file $1. Sets `code`.
validate_config() {
  local out="$1"
  shift
  run_kvsync "$work/annotations.txt" annotations validate "${common[@]}" --format github "$@"
  # The runner turns these lines on stdout into annotations.
  repo_annotations <"$work/annotations.txt" >"$work/annotations.repo.txt"
  cat "$work/annotations.repo.txt"
  if ((code == 0)); then
    printf '### kvsync validate: `%s` is valid\n' "$config_path" >"$out"
    return
  fi
  local count
  count="$(grep -c '^::error' "$work/annotations.repo.txt" || true)"
  if ((count > 0)); then
    {
      printf '### kvsync validate: %s problem%s in `%s`\n\n' "$count" "$([[ $count == 1 ]] || echo s)" "$config_path"
      annotations_markdown <"$work/annotations.repo.txt"
    } >"$out"
  else
    failure_markdown >"$out"
    printf '::error title=kvsync validate::%s\n' "$(tail -n 1 "$work/stderr" 2>/dev/null || echo "kvsync validate failed (exit $code)")"
  fi
}

# Whether GitHub withheld the secrets from this run: a `pull_request` from a fork or from
# Dependabot, and no Cloudflare token (see the top of this file).
secrets_withheld() {
  [[ "${GITHUB_EVENT_NAME:-}" == pull_request ]] || return 1
  [[ -z "${CLOUDFLARE_API_TOKEN:-}" && -z "${CF_API_TOKEN:-}" ]] || return 1
  local arg previous=""
  for arg in ${extra[@]+"${extra[@]}"}; do
    [[ "$arg" == --target=local || ("$previous" == --target && "$arg" == local) ]] && return 1
    previous="$arg"
  done
  [[ -n "${GITHUB_EVENT_PATH:-}" && -f "$GITHUB_EVENT_PATH" ]] || return 1
  command -v jq >/dev/null 2>&1 || return 1
  local head base author
  # A deleted fork has no head repository: still not this one.
  head="$(jq -r '.pull_request.head.repo.full_name // ""' "$GITHUB_EVENT_PATH")"
  base="$(jq -r '.pull_request.base.repo.full_name // ""' "$GITHUB_EVENT_PATH")"
  base="${base:-${GITHUB_REPOSITORY:-}}"
  author="$(jq -r '.pull_request.user.login // ""' "$GITHUB_EVENT_PATH")"
  [[ "$head" != "$base" || "$author" == "dependabot[bot]" ]]
}

# The renderings kvsync writes besides stdout: `name:budget:label` per place. `label` names the
# place in the note of a smaller rendering that had to leave something out.
renderings=()
markdown_args=()
# The room a comment leaves for the report: comment.sh adds the marker (config path and
# environment), the footer (both again, the commit and the run's URL) and at most one fixed
# sentence; 1 KiB covers the fixed text.
comment_budget=$((comment_limit - 1024 - 2 * ($(string_bytes "$config_path") + $(string_bytes "$environment")) -
  $(string_bytes "${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}")))
wants_comment() {
  [[ "${INPUT_COMMENT:-on-change}" != never ]] || return 1
  case "${GITHUB_EVENT_NAME:-}" in pull_request | pull_request_target) ;; *) return 1 ;; esac
  [[ "$command" == plan || "$command" == drift ]]
}
plan_renderings() {
  local used=0 room summary_budget
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    [[ -f "$GITHUB_STEP_SUMMARY" ]] && used="$(byte_length "$GITHUB_STEP_SUMMARY")"
    room=$((step_summary_limit - used))
    if ((room >= 4096)); then
      renderings+=("step-summary:$room:the job summary")
    else
      printf '::warning title=kvsync::the job summary of this step is full (%s bytes), so the report is only in the log\n' "$used"
    fi
  fi
  summary_budget="$summary_output_limit"
  if wants_comment; then
    renderings+=("comment:$comment_budget:the pull-request comment")
    # Never larger than the comment, so no comment's note sends a reader to an output.
    ((summary_budget <= comment_budget)) || summary_budget="$comment_budget"
  fi
  renderings+=("summary:$summary_budget:the \`summary\` output")
  local rendering name budget label
  for rendering in "${renderings[@]}"; do
    name="${rendering%%:*}"
    budget="${rendering#*:}"
    label="${budget#*:}"
    budget="${budget%%:*}"
    : >"$work/$name.md"
    # The path in the runner's own form: Git Bash would rewrite `/c/…:N:label` as a path list.
    markdown_args+=(--markdown-out "$(native_path "$work/$name.md"):$budget:$label")
  done
  # The log shows stdout whole, so every cut note can send the reader there.
  markdown_args+=(--max-chars 67108864 --full-report-hint "the log of the kvsync step")
}

# Whether this kvsync renders for several budgets (`--markdown-out`; an older release does not).
renders_per_place() {
  "$kvsync" "$command" --help 2>/dev/null | grep -q -- '--markdown-out'
}

# Copies a report made here (or the one rendering of an older kvsync) to a place that holds at
# most `limit` bytes; a report too long for it is replaced by a line saying where it is, never
# cut.
fit_or_point() {
  local from="$1" to="$2" limit="$3" where="$4"
  if (($(byte_length "$from") <= limit)); then
    cat "$from" >"$to"
  else
    printf '### kvsync %s: `%s`%s\n\nThe report is too long for this place; it is in %s.\n' \
      "$command" "$config_path" "${environment:+ (\`$environment\`)}" "$where" >"$to"
  fi
}

has_changes=false
has_drift=false
plan_file=""
snapshot_file=""
code=0
ran="$command"
# Whether $report is kvsync's Markdown, rendered by kvsync for each place, or a report made here.
kvsync_markdown=false

if [[ "$command" == plan || "$command" == drift ]] && secrets_withheld; then
  ran=validate
  printf '::notice title=kvsync %s::no Cloudflare API token: a pull request from a fork gets no secrets, so the config was only validated\n' "$command"
  # Not `args`: they are the plan's (`--only`, `--no-value-diff`), which validate refuses.
  validate_config "$work/validated.md"
  {
    printf '### kvsync %s skipped: pull request from a fork\n\n' "$command"
    printf 'GitHub gives a pull request from a fork (or from Dependabot) no secrets, so this run '
    printf 'has no Cloudflare API token to read the namespaces with: no %s was made. ' "$command"
    printf 'The config was validated instead.\n\n'
    printf 'The %s runs when the branch is pushed to this repository (a maintainer can push ' "$command"
    printf 'it there).\n\n'
    sed 's/^###/####/' "$work/validated.md"
  } >"$report"
fi

case "$ran" in
  validate)
    [[ "$command" == validate ]] && validate_config "$report" ${extra[@]+"${extra[@]}"}
    ;;

  plan | drift)
    if renders_per_place; then
      plan_renderings
    fi
    if [[ "$command" == plan ]]; then
      plan_file="$work/plan.json"
      args=(plan "${common[@]}" --format markdown --detailed-exitcode --out "$plan_file")
      if [[ -n "$baseline" ]]; then
        bash "$here/baseline.sh" "$baseline" "$config" "$work/baseline-path"
        baseline_file="$(cat "$work/baseline-path")"
        [[ -n "$baseline_file" ]] && args+=(--baseline "$baseline_file")
      fi
    else
      args=(drift "${common[@]}" --format markdown)
    fi
    run_kvsync "$report" show "${args[@]}" ${markdown_args[@]+"${markdown_args[@]}"} ${extra[@]+"${extra[@]}"}
    case "$code" in
      0) kvsync_markdown=true ;;
      2)
        kvsync_markdown=true
        has_changes=true
        [[ "$command" == drift ]] && has_drift=true
        ;;
      *)
        # Exit 1 with Markdown on stdout: a config that does not load (values that break their
        # schemas), listed once by kvsync; or a plan apply would refuse, and the report says why.
        if [[ "$command" == plan && "$code" == 1 && "$(head -n 1 "$report")" == "## kvsync plan"* ]]; then
          kvsync_markdown=true
          if grep -qF '<!-- kvsync: config problems -->' "$report"; then
            annotate_config_problems --lines-only
          else
            has_changes=true
          fi
        else
          failure_markdown >"$report"
          annotate_config_problems
        fi
        ;;
    esac
    if [[ "$command" == plan ]]; then
      if [[ -s "$plan_file" ]]; then
        if $has_changes && grep -q '"tag": *"drift"' "$plan_file"; then
          has_drift=true
        fi
      else
        plan_file=""
      fi
    fi
    ;;

  pull)
    # The files are changed in the workspace; committing them is the workflow's business.
    run_kvsync "$work/pull.txt" show pull "${common[@]}" ${extra[@]+"${extra[@]}"}
    if [[ "$code" == 0 || "$code" == 2 ]]; then
      [[ "$code" == 2 ]] && has_changes=true
      {
        printf '### kvsync pull: `%s`%s\n\n' "$config_path" "${environment:+ (\`$environment\`)}"
        printf '```text\n'
        sed 's/^```/` ``/' "$work/pull.txt"
        printf '```\n'
      } >"$report"
    else
      failure_markdown >"$report"
      annotate_config_problems
    fi
    ;;

  apply)
    # A positional argument in `args` is a saved plan: kvsync applies exactly it or refuses.
    saved=""
    skip=false
    # Where the snapshot goes: `--snapshot PATH` in `args`, none with `--no-snapshot`, else a
    # new file under the runner's temporary folder (the `snapshot-file` output, for an
    # artifact). `--snapshot-sensitive` is never added: secrets stay out of artifacts.
    snapshot_wanted=true
    user_snapshot=false
    take_snapshot_path=false
    for arg in ${extra[@]+"${extra[@]}"}; do
      if $take_snapshot_path; then
        take_snapshot_path=false
        snapshot_file="$arg"
        continue
      fi
      if $skip; then
        skip=false
        continue
      fi
      case "$arg" in
        --snapshot)
          take_snapshot_path=true
          user_snapshot=true
          ;;
        --snapshot=*)
          snapshot_file="${arg#--snapshot=}"
          user_snapshot=true
          ;;
        --no-snapshot) snapshot_wanted=false ;;
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
    if $snapshot_wanted && ! $user_snapshot; then
      snapshot_file="$work/kvsync-snapshot-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
      args+=(--snapshot "$snapshot_file")
    fi
    $snapshot_wanted || snapshot_file=""
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
        if [[ -n "$snapshot_file" && -s "$snapshot_file" ]]; then
          printf '\nThe keys this apply changed were saved as they were before it, in `%s`. ' "$(basename "$snapshot_file")"
          printf 'To put them back, download that file (the `snapshot-file` output, uploaded as an artifact) and run `kvsync restore FILE` with this job'"'"'s credentials; it refuses keys changed since, unless `--overwrite-changed`.\n'
        fi
      } >"$report"
    else
      failure_markdown >"$report"
      annotate_config_problems
    fi
    # No snapshot on disk (nothing to change, or it could not be written): no output.
    [[ -n "$snapshot_file" && -s "$snapshot_file" ]] || snapshot_file=""
    ;;
esac

# Each place gets kvsync's rendering for it; a report made here, or the one rendering of an
# older kvsync, where it fits.
step_summary="$work/step-summary.md"
summary="$work/summary.md"
comment_report="$work/comment.md"
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  used=0
  [[ -f "$GITHUB_STEP_SUMMARY" ]] && used="$(byte_length "$GITHUB_STEP_SUMMARY")"
  if ! $kvsync_markdown || [[ ! -s "$step_summary" ]]; then
    fit_or_point "$report" "$step_summary" $((step_summary_limit - used)) "the log of the kvsync step"
  fi
  if ((used + $(byte_length "$step_summary") <= step_summary_limit)); then
    cat "$step_summary" >>"$GITHUB_STEP_SUMMARY"
  fi
fi
if ! $kvsync_markdown || [[ ! -s "$summary" ]]; then
  fit_or_point "$report" "$summary" "$summary_output_limit" "the job summary"
fi
if ! $kvsync_markdown || [[ ! -s "$comment_report" ]]; then
  fit_or_point "$report" "$comment_report" "$comment_budget" "the job summary of the workflow run"
fi

set_output exit-code "$code"
set_output has-changes "$has_changes"
set_output has-drift "$has_drift"
set_output plan-file "$(native_path "$plan_file")"
set_output snapshot-file "$(native_path "$snapshot_file")"
set_output report-file "$(native_path "$comment_report")"
set_output config-path "$config_path"
set_output ran "$ran"
set_output_file summary "$summary"
exit 0
