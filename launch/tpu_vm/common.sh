#!/usr/bin/env bash
# Shared helpers for the launch/tpu_vm/*.sh scripts. Sourced, never executed.
#
# What lives here:
#   run               run a command, or only print it under --dry-run
#   shell_quote       quote one word so that a POSIX shell reads it back verbatim
#   quote_cmd         quote a whole argv the same way (for printing)
#   run_on_workers    `gcloud ... tpu-vm ssh NAME --worker=all --command CMD`,
#                     plus the per-worker expansion, `worker I: CMD` per worker
#   workers_for_type  hosts (workers) per accelerator type, e.g. v4-32 -> 4
#   default_runtime_for_type   a TPU VM software version per TPU generation
#   flag_value, require, usage_error, die, need_gcloud
#
# Conventions of every script:
#   * flags only, `--flag VALUE` or `--flag=VALUE`; `--help` prints the usage;
#   * a usage error prints `error: ...` and the usage to stderr and exits 2;
#   * `--dry-run` prints every command (prefixed `+ `) to stdout, runs nothing
#     and needs no gcloud;
#   * without --dry-run each command is echoed (`+ ...`) to stderr, then run.
#
# Remote command strings are deliberately written in single quotes, so that
# `$HOME` and friends expand on the TPU worker, not here:
# shellcheck disable=SC2016

# Where things live on every TPU worker (relative to the remote $HOME); used
# by the scripts that source this file.
# shellcheck disable=SC2034
REMOTE_REPO='$HOME/drl_jax'          # the drl_jax source tree
REMOTE_VENV='$HOME/drl_jax_venv'     # the Python virtual environment
REMOTE_LOGS='$HOME/drl_jax_logs'     # per-run logs written by run.sh (tee)

DRY_RUN=${DRY_RUN:-0}

die() {
  # die MESSAGE: a runtime failure (not a usage error).
  printf 'error: %s\n' "$*" >&2
  exit 1
}

usage_error() {
  # usage_error MESSAGE: wrong or missing arguments. Needs the caller's usage().
  printf 'error: %s\n\n' "$*" >&2
  usage >&2
  exit 2
}

flag_value() {
  # flag_value "$@": the value that follows the flag in $1, or a usage error.
  # Called as VAR=$(flag_value "$@"); the caller then does `shift 2`.
  if (($# < 2)) || [[ -z $2 || $2 == --* ]]; then
    usage_error "$1 needs a value"
  fi
  printf '%s' "$2"
}

require() {
  # require VALUE FLAG: usage error unless VALUE is non-empty.
  [[ -n $1 ]] || usage_error "$2 is required"
}

validate_name() {
  # TPU node names: lowercase letters, digits, hyphens; start with a letter.
  [[ $1 =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
    usage_error "--name '$1' is not a valid TPU name (lowercase letters, digits, '-'; starts with a letter)"
}

validate_zone() {
  [[ $1 =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] ||
    usage_error "--zone '$1' does not look like a zone (e.g. us-central2-b)"
}

validate_count() {
  # validate_count VALUE FLAG: a positive integer.
  [[ $1 =~ ^[1-9][0-9]*$ ]] || usage_error "$2 must be a positive integer, got '$1'"
}

need_gcloud() {
  # Only real runs need the gcloud CLI; --dry-run never calls it.
  if [[ $DRY_RUN != 1 ]] && ! command -v gcloud >/dev/null 2>&1; then
    die "gcloud not found on PATH (install the Google Cloud CLI, or use --dry-run)"
  fi
}

shell_quote() {
  # shell_quote WORD: WORD as a POSIX-shell word. Plain words stay bare; any
  # other word is single-quoted, with each ' written as '\''.
  local s=$1 q="'\\''"
  if [[ -n $s && $s != *[!A-Za-z0-9_./:=,@%+-]* ]]; then
    printf '%s' "$s"
  else
    printf "'%s'" "${s//\'/$q}"
  fi
}

quote_cmd() {
  # quote_cmd ARG...: the argv as one copy-pastable command line.
  local out='' word
  for word in "$@"; do
    out+="${out:+ }$(shell_quote "$word")"
  done
  printf '%s' "$out"
}

run() {
  # run CMD ARG...: print (dry run) or echo to stderr and execute.
  if [[ $DRY_RUN == 1 ]]; then
    printf '+ %s\n' "$(quote_cmd "$@")"
  else
    printf '+ %s\n' "$(quote_cmd "$@")" >&2
    "$@"
  fi
}

gcloud_scope() {
  # gcloud_scope ZONE [PROJECT]: the --zone/--project flags, one per line.
  printf '%s\n' "--zone=$1"
  if [[ -n ${2:-} ]]; then printf '%s\n' "--project=$2"; fi
}

print_worker_expansion() {
  # print_worker_expansion NWORKERS CMD: one line per worker, `worker I: CMD`.
  local nworkers=$1 cmd=$2 i
  if [[ -n $nworkers ]]; then
    printf '# --worker=all: the same command on each of the %s workers\n' "$nworkers"
    for ((i = 0; i < nworkers; i++)); do
      printf 'worker %d: %s\n' "$i" "$cmd"
    done
  else
    printf '# --worker=all: the same command on every worker\n'
    printf 'worker all: %s\n' "$cmd"
  fi
}

run_on_workers() {
  # run_on_workers NAME ZONE PROJECT NWORKERS REMOTE_CMD
  # Runs REMOTE_CMD on every worker of the TPU VM at once (gcloud --worker=all)
  # and shows which workers run what (gcloud sends the very same command
  # string to each worker): after the command under --dry-run, on stderr
  # before it otherwise. NWORKERS may be empty when unknown.
  local name=$1 zone=$2 project=$3 nworkers=$4 cmd=$5
  local -a scope
  mapfile -t scope < <(gcloud_scope "$zone" "$project")
  if [[ $DRY_RUN == 1 ]]; then
    run gcloud compute tpus tpu-vm ssh "$name" "${scope[@]}" --worker=all --command "$cmd"
    print_worker_expansion "$nworkers" "$cmd"
  else
    print_worker_expansion "$nworkers" "$cmd" >&2
    run gcloud compute tpus tpu-vm ssh "$name" "${scope[@]}" --worker=all --command "$cmd"
  fi
}

workers_for_type() {
  # workers_for_type TYPE: number of TPU VM hosts (workers) of the slice, or
  # fails (status 1) for a type not in the table. The number in the type name
  # counts TensorCores for v2/v3/v4/v5p (2 per chip, 4 chips = 8 cores per
  # host) and chips for v5litepod/v6e (single-host up to 8 chips; larger
  # slices use 4-chip hosts). Examples:
  #   v4-8=1  v4-16=2  v4-32=4  v4-64=8      v5p-8=1  v5p-16=2  v5p-32=4
  #   v5litepod-1/4/8=1  v5litepod-16=4  v5litepod-32=8  v5litepod-64=16
  #   v6e-1/4/8=1        v6e-16=4        v6e-32=8        v6e-64=16
  # Override with --workers N if your slice differs.
  local type=$1 family n
  [[ $type =~ ^(v2|v3|v4|v5p|v5litepod|v6e)-([1-9][0-9]*)$ ]] || return 1
  family=${BASH_REMATCH[1]}
  n=${BASH_REMATCH[2]}
  case $family in
    v2 | v3 | v4 | v5p)
      ((n % 8 == 0)) || return 1
      printf '%d\n' $((n / 8))
      ;;
    v5litepod | v6e)
      case $n in
        1 | 4 | 8) printf '1\n' ;;
        *)
          ((n % 4 == 0 && n <= 256)) || return 1
          printf '%d\n' $((n / 4))
          ;;
      esac
      ;;
  esac
}

default_runtime_for_type() {
  # default_runtime_for_type TYPE: the TPU VM software version (--version of
  # `gcloud compute tpus tpu-vm create`) Google documents per generation.
  # Pass --runtime-version to use another one.
  case $1 in
    v2-* | v3-* | v4-*) printf 'tpu-ubuntu2204-base\n' ;;
    v5litepod-*) printf 'v2-alpha-tpuv5-lite\n' ;;
    v5p-*) printf 'v2-alpha-tpuv5\n' ;;
    v6e-*) printf 'v2-alpha-tpuv6e\n' ;;
    *) return 1 ;;
  esac
}
