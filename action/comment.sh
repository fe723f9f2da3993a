#!/usr/bin/env bash
# Keeps one sticky pull-request comment per config and environment up to date with the report
# run.sh wrote, through the GitHub REST API (so GitHub Enterprise Server works too).
#
# The comment is found by a hidden marker on its first line,
#   <!-- kvsync:<command>:<config path>:<environment> -->
# among the pull request's comments (every page) written by the account the token posts as
# (`comment-author`, `github-actions[bot]` for GITHUB_TOKEN): anyone can paste the marker into a
# comment of their own, and that comment must not be taken over. With `comment: on-change` (the default) it is
# created only when the plan has changes or drift, updated in place on every later run, and
# turned into a short "No changes" note when a later push removes them all; a run without
# changes never creates one. `always` posts the report even without changes; `never` does
# nothing. A failed run updates an existing comment (a stale plan must not stay up) and creates
# one only with `always`. A plan apply would refuse (exit 1 with a report, `has-changes` true) is
# posted like any plan with changes: its report says why apply would refuse.
#
# The report is posted as run.sh left it: kvsync rendered it for the room a comment has left
# after the marker and the footer, so it is never cut again here.
#
# Environment:
#   INPUT_COMMENT        on-change | always | never
#   INPUT_COMMENT_AUTHOR the login whose comment is ours [default: github-actions[bot]]
#   INPUT_COMMAND        plan | drift (others never comment)
#   INPUT_ENVIRONMENT    kvsync's --env, part of the marker
#   KVSYNC_CONFIG_PATH   the config's path in the repository, part of the marker
#   KVSYNC_EXIT_CODE, KVSYNC_HAS_CHANGES, KVSYNC_HAS_DRIFT, KVSYNC_REPORT_FILE  from run.sh
#   KVSYNC_RAN           the command run.sh ran: `validate` when a fork's plan was skipped
#   GITHUB_TOKEN         needs `pull-requests: write`; sent only in a header, never printed
#   GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_SERVER_URL,
#   GITHUB_RUN_ID        as the runner sets them
# Writes `comment-id` to $GITHUB_OUTPUT when the comment exists after the run.
# Needs curl and jq (both on GitHub's runners). Problems talking to GitHub are warnings: the
# plan itself decides whether the job fails.
set -euo pipefail

log() { printf 'kvsync comment: %s\n' "$*" >&2; }
warn() {
  printf '::warning title=kvsync comment::%s\n' "$*"
  exit 0
}

mode="${INPUT_COMMENT:-on-change}"
command="${INPUT_COMMAND:-plan}"
environment="${INPUT_ENVIRONMENT:-}"
config_path="${KVSYNC_CONFIG_PATH:-kvsync.yaml}"
exit_code="${KVSYNC_EXIT_CODE:-}"
has_changes="${KVSYNC_HAS_CHANGES:-false}"
has_drift="${KVSYNC_HAS_DRIFT:-false}"
report_file="${KVSYNC_REPORT_FILE:-}"
ran="${KVSYNC_RAN:-$command}"
author="${INPUT_COMMENT_AUTHOR:-github-actions[bot]}"
if [[ -n "$report_file" ]] && command -v cygpath >/dev/null 2>&1; then
  report_file="$(cygpath -u "$report_file")"
fi

case "$mode" in
  never)
    log "comment: never"
    exit 0
    ;;
  on-change | always) ;;
  *)
    printf '::error title=kvsync comment::`comment` must be on-change, always or never, not `%s`\n' "$mode"
    exit 1
    ;;
esac
case "${GITHUB_EVENT_NAME:-}" in
  pull_request | pull_request_target) ;;
  *)
    log "not a pull request (${GITHUB_EVENT_NAME:-no event}): no comment"
    exit 0
    ;;
esac
case "$command" in
  plan | drift) ;;
  *)
    log "\`$command\` reports through annotations and the job summary, not a comment"
    exit 0
    ;;
esac
[[ -n "$exit_code" ]] || warn "kvsync did not run, so there is nothing to comment"
if [[ "$ran" != "$command" ]]; then
  log "kvsync $command was not run (only \`$ran\`; see the job summary): no comment"
  exit 0
fi
command -v jq >/dev/null 2>&1 || warn "jq is not installed, so the pull request cannot be commented on"
[[ -n "${GITHUB_TOKEN:-}" ]] || warn "no token: pass \`github-token\` (it needs \`pull-requests: write\`)"
[[ -n "${GITHUB_EVENT_PATH:-}" && -f "${GITHUB_EVENT_PATH}" ]] || warn "no event file at GITHUB_EVENT_PATH"

pr="$(jq -r '.pull_request.number // .number // empty' "$GITHUB_EVENT_PATH")"
[[ "$pr" =~ ^[0-9]+$ ]] || warn "the event has no pull request number"
head_sha="$(jq -r '.pull_request.head.sha // empty' "$GITHUB_EVENT_PATH")"
head_sha="${head_sha:-${GITHUB_SHA:-}}"
repository="${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
api="${GITHUB_API_URL:-https://api.github.com}"
api="${api%/}"

marker="<!-- kvsync:$command:$config_path:$environment -->"

work="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kvsync-comment.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The token goes to curl through a header file only readable by us, never on a command line.
(
  umask 077
  printf 'Authorization: Bearer %s\n' "$GITHUB_TOKEN" >"$work/auth"
)

# api METHOD URL [BODY_FILE]: the answer goes to $work/answer; prints the HTTP status.
call() {
  local method="$1" url="$2" body="${3:-}"
  local args=(--silent --show-error --location --retry 2 --connect-timeout 20
    -X "$method" -H @"$work/auth"
    -H "Accept: application/vnd.github+json" -H "X-GitHub-Api-Version: 2022-11-28"
    -H "User-Agent: kvsync-action"
    --output "$work/answer" --write-out '%{http_code}')
  if [[ -n "$body" ]]; then
    args+=(-H "Content-Type: application/json" --data-binary @"$body")
  fi
  curl "${args[@]}" "$url" 2>"$work/curl.err" || {
    sed 's/^/curl: /' "$work/curl.err" >&2
    printf '000'
  }
}

# Why a call failed, with a hint for the common case.
explain() {
  local status="$1" what="$2" message
  message="$(jq -r '.message? // empty' "$work/answer" 2>/dev/null | head -c 500 || true)"
  # Whatever the server answered, the token is not repeated.
  message="${message//"$GITHUB_TOKEN"/***}"
  case "$status" in
    401 | 403 | 404)
      warn "$what failed (HTTP $status${message:+: $message}); the token needs \`pull-requests: write\` (pull requests from forks get a read-only token)"
      ;;
    *) warn "$what failed (HTTP $status${message:+: $message})" ;;
  esac
}

# Finds our comment: the first by `author` whose body starts with the marker, on any page.
existing_id=""
existing_body="$work/existing.md"
page=1
per_page=100
while ((page <= 100)); do
  status="$(call GET "$api/repos/$repository/issues/$pr/comments?per_page=$per_page&page=$page")"
  [[ "$status" == 200 ]] || explain "$status" "listing the comments of pull request #$pr"
  jq -e 'type == "array"' "$work/answer" >/dev/null 2>&1 ||
    warn "listing the comments of pull request #$pr gave no list"
  existing_id="$(jq -r --arg marker "$marker" --arg author "$author" \
    'map(select(((.body // "") | startswith($marker)) and .user.login? == $author))
     | first | .id // empty' "$work/answer")"
  if [[ -n "$existing_id" ]]; then
    jq -j --arg id "$existing_id" '.[] | select((.id | tostring) == $id) | .body' \
      "$work/answer" >"$existing_body"
    break
  fi
  count="$(jq 'length' "$work/answer")"
  ((count >= per_page)) || break
  page=$((page + 1))
done
if [[ -n "$existing_id" ]]; then
  log "found the comment for $config_path${environment:+ ($environment)} on page $page: $existing_id"
fi

short_sha="${head_sha:0:7}"
run_url=""
if [[ -n "${GITHUB_RUN_ID:-}" ]]; then
  run_url="${GITHUB_SERVER_URL:-https://github.com}/$repository/actions/runs/$GITHUB_RUN_ID"
fi
where="\`$config_path\`${environment:+ · environment \`$environment\`}"
footer() {
  printf '\n<sub>kvsync %s for %s%s%s. This comment is updated in place on every push.</sub>\n' \
    "$command" "$where" "${short_sha:+ at $short_sha}" "${run_url:+ · [workflow run]($run_url)}"
}

body="$work/body.md"
changed=false
[[ "$has_changes" == true || "$has_drift" == true ]] && changed=true
failed=false
# Exit 1 with changes is a plan apply would refuse: a report to show, not a failure note.
if [[ "$exit_code" != 0 && "$exit_code" != 2 ]] && ! [[ "$exit_code" == 1 && "$has_changes" == true ]]; then
  failed=true
fi
if $failed; then
  if [[ -z "$existing_id" && "$mode" != always ]]; then
    log "kvsync $command failed and there is no comment to update: none created"
    exit 0
  fi
  {
    printf '%s\n' "$marker"
    if [[ -n "$report_file" && -s "$report_file" ]]; then
      cat "$report_file"
    else
      printf '### kvsync %s failed (exit %s)\n' "$command" "$exit_code"
    fi
    printf '\nThe previous report was removed because it no longer matches the pull request; see the job log.\n'
    footer
  } >"$body"
elif $changed || [[ "$mode" == always ]]; then
  {
    printf '%s\n' "$marker"
    cat "$report_file"
    footer
  } >"$body"
elif [[ -n "$existing_id" ]]; then
  line="$(grep -m1 -E '^\*\*(No changes|No drift)' "$report_file" 2>/dev/null | tr -d '*' || true)"
  {
    printf '%s\n' "$marker"
    if [[ "$command" == drift ]]; then
      printf '### ✅ kvsync drift: no drift\n\n'
      printf 'As of %s, the live namespaces match %s' "${short_sha:-the latest push}" "$where"
    else
      printf '### ✅ kvsync plan: no changes\n\n'
      printf 'As of %s, applying %s would change nothing in KV' "${short_sha:-the latest push}" "$where"
    fi
    if [[ -n "$line" ]]; then printf ': **%s**\n' "$line"; else printf '.\n'; fi
    printf '\nThe earlier report was replaced because a later push removed all its changes.\n'
    footer
  } >"$body"
else
  log "no changes and no earlier comment: nothing to post (comment: on-change)"
  exit 0
fi

if [[ -n "$existing_id" ]] && cmp -s "$body" "$existing_body"; then
  log "the comment already says this: not updated"
  printf 'comment-id=%s\n' "$existing_id" >>"${GITHUB_OUTPUT:-/dev/null}"
  exit 0
fi

jq -n --rawfile body "$body" '{body: $body}' >"$work/request.json"
if [[ -n "$existing_id" ]]; then
  status="$(call PATCH "$api/repos/$repository/issues/comments/$existing_id" "$work/request.json")"
  [[ "$status" == 200 ]] || explain "$status" "updating comment $existing_id"
  log "updated comment $existing_id on pull request #$pr"
  id="$existing_id"
else
  status="$(call POST "$api/repos/$repository/issues/$pr/comments" "$work/request.json")"
  [[ "$status" == 201 ]] || explain "$status" "commenting on pull request #$pr"
  id="$(jq -r '.id // empty' "$work/answer")"
  log "created comment $id on pull request #$pr"
fi
url="$(jq -r '.html_url // empty' "$work/answer")"
[[ -n "$url" ]] && log "$url"
printf 'comment-id=%s\n' "$id" >>"${GITHUB_OUTPUT:-/dev/null}"
