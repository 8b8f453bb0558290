#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Remote snippets are single-quoted on purpose ($(hostname) and $HOME expand
# on the worker):
# shellcheck disable=SC2016
#
# Stream (or print the tail of) the drl_jax logs of all workers.
#
#   launch/tpu_vm/logs.sh --name drl-pod --zone us-central2-b --type v4-32
#   launch/tpu_vm/logs.sh --name drl-pod --zone us-central2-b --worker 0 --no-follow
#
# Reads ~/drl_jax_logs/latest.log (the last run.sh start) or --log-name LOG.
# Each line is prefixed with the worker's hostname, since the output of all
# workers is interleaved. Stop following with Ctrl-C; the run itself goes on
# only if it was started with run.sh --detach.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

usage() {
  cat <<'EOF'
usage: logs.sh --name NAME --zone ZONE [--type TYPE | --workers N] [--project PROJECT]
               [--worker all|I] [--log-name LOG] [--lines N] [--no-follow] [--dry-run]

Follow the drl_jax log of every worker (tail -F), lines prefixed by host name.

  --name NAME        TPU node name
  --zone ZONE        its zone
  --type TYPE        accelerator type (e.g. v4-32); only used to list the workers
  --workers N        number of workers (hosts), instead of --type
  --project PROJECT  Google Cloud project (default: gcloud's configured one)
  --worker all|I     all workers (default) or only worker I
  --log-name LOG     ~/drl_jax_logs/LOG.log (default: latest.log, the last run)
  --lines N          lines of history to show first (default 100)
  --no-follow        print the last lines and exit instead of following
  --dry-run          print every command instead of running it
  -h, --help         show this help
EOF
}

NAME='' ZONE='' TYPE='' NWORKERS='' PROJECT='' WORKER=all LOG_NAME=latest LINES=100
FOLLOW=1
while (($#)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
  esac
  case $1 in
    --name) NAME=$(flag_value "$@"); shift 2 ;;
    --zone) ZONE=$(flag_value "$@"); shift 2 ;;
    --type) TYPE=$(flag_value "$@"); shift 2 ;;
    --workers) NWORKERS=$(flag_value "$@"); shift 2 ;;
    --project) PROJECT=$(flag_value "$@"); shift 2 ;;
    --worker) WORKER=$(flag_value "$@"); shift 2 ;;
    --log-name) LOG_NAME=$(flag_value "$@"); shift 2 ;;
    --lines) LINES=$(flag_value "$@"); shift 2 ;;
    --no-follow) FOLLOW=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

require "$NAME" --name
require "$ZONE" --zone
validate_name "$NAME"
validate_zone "$ZONE"
validate_count "$LINES" --lines
[[ $WORKER == all || $WORKER =~ ^(0|[1-9][0-9]*)$ ]] ||
  usage_error "--worker must be 'all' or a worker index, got '$WORKER'"
[[ $LOG_NAME =~ ^[A-Za-z0-9_.-]+$ ]] ||
  usage_error "--log-name '$LOG_NAME' may only use letters, digits, '_', '.', '-'"
if [[ -n $NWORKERS ]]; then
  validate_count "$NWORKERS" --workers
elif [[ -n $TYPE ]]; then
  NWORKERS=$(workers_for_type "$TYPE") ||
    usage_error "unknown --type '$TYPE' (not in the worker table); pass --workers N"
fi
if [[ $WORKER != all && -n $NWORKERS ]] && ((WORKER >= NWORKERS)); then
  usage_error "--worker $WORKER does not exist: $NWORKERS workers (0..$((NWORKERS - 1)))"
fi
need_gcloud

LOG="$REMOTE_LOGS/$LOG_NAME.log"
if ((FOLLOW)); then TAIL="tail -n $LINES -F $LOG"; else TAIL="tail -n $LINES $LOG"; fi
# sed -u: line-buffered, so followed lines appear at once.
REMOTE="$TAIL"' | sed -u "s/^/[$(hostname)] /"'

if [[ $WORKER == all ]]; then
  run_on_workers "$NAME" "$ZONE" "$PROJECT" "$NWORKERS" "$REMOTE"
else
  mapfile -t SCOPE < <(gcloud_scope "$ZONE" "$PROJECT")
  run gcloud compute tpus tpu-vm ssh "$NAME" "${SCOPE[@]}" "--worker=$WORKER" --command "$REMOTE"
fi
