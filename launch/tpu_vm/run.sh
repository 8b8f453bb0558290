#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Remote snippets are single-quoted on purpose ($HOME expands on the worker):
# shellcheck disable=SC2016
#
# Run one drl_jax config on all workers of a TPU VM / pod slice at once.
#
#   launch/tpu_vm/run.sh --name drl-pod --zone us-central2-b --type v4-32 \
#       --config configs/transfer.py --workdir gs://my-bucket/drl/transfer \
#       -- --config.train.steps=200000 '--config.sweep.seeds=(0, 1)'
#
# Every worker runs the same command (`gcloud ... ssh --worker=all`):
#   cd ~/drl_jax && . ~/drl_jax_venv/bin/activate && ... &&
#   python -m drl_jax.main --config=CONFIG [--config.workdir=W] OVERRIDES... \
#     2>&1 | tee -a ~/drl_jax_logs/LOG_NAME.log
# drl_jax calls jax.distributed.initialize() itself; on a TPU VM JAX finds the
# other hosts on its own, so the command needs no rank or coordinator.
# Output is streamed here (all workers interleaved) and kept on each worker in
# ~/drl_jax_logs/LOG_NAME.log (plus the link ~/drl_jax_logs/latest.log), which
# logs.sh reads. The exit status is the python's (pipefail on the worker).
#
# Overrides are passed through verbatim: each is quoted for the worker's shell,
# so values with spaces, quotes or $ arrive unchanged.
# Resume after a preemption: rerun the same command with the same gs://
# workdir; drl_jax continues from the last checkpoint there.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

usage() {
  cat <<'EOF'
usage: run.sh --name NAME --zone ZONE (--type TYPE | --workers N) --config CONFIG
              [--workdir DIR] [--project PROJECT] [--log-name LOG] [--detach]
              [--dry-run] [-- OVERRIDES...]

Run `python -m drl_jax.main --config=CONFIG OVERRIDES...` on all workers at once.

  --name NAME        TPU node name
  --zone ZONE        its zone
  --type TYPE        accelerator type (e.g. v4-32 = 4 workers); sets the worker
                     count shown, and checked against a gs:// workdir
  --workers N        number of workers (hosts), instead of / overriding --type
  --config CONFIG    config file and preset, relative to the repo, e.g.
                     configs/transfer.py or configs/train_source.py:quick
  --workdir DIR      adds --config.workdir=DIR; on a pod it must be gs://...
                     (every host reads and writes the same checkpoints)
  --project PROJECT  Google Cloud project (default: gcloud's configured one)
  --log-name LOG     log file name on each worker, ~/drl_jax_logs/LOG.log
                     (default: <job>-<UTC time>, e.g. transfer-20250101T120000Z)
  --detach           start in the background on the workers and return; the
                     run survives a closed laptop; follow it with logs.sh
  --dry-run          print every command (and each worker's) instead of running
  -h, --help         show this help
  -- OVERRIDES...    passed verbatim to drl_jax.main, e.g. -- --config.train.steps=200000
                     (bare --config.* arguments before -- are overrides too)
EOF
}

NAME='' ZONE='' TYPE='' NWORKERS='' CONFIG='' WORKDIR='' PROJECT='' LOG_NAME=''
DETACH=0
OVERRIDES=()
while (($#)); do
  case $1 in
    --config.*) OVERRIDES+=("$1"); shift; continue ;;  # a drl_jax override
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
  esac
  case $1 in
    --name) NAME=$(flag_value "$@"); shift 2 ;;
    --zone) ZONE=$(flag_value "$@"); shift 2 ;;
    --type) TYPE=$(flag_value "$@"); shift 2 ;;
    --workers) NWORKERS=$(flag_value "$@"); shift 2 ;;
    --config) CONFIG=$(flag_value "$@"); shift 2 ;;
    --workdir) WORKDIR=$(flag_value "$@"); shift 2 ;;
    --project) PROJECT=$(flag_value "$@"); shift 2 ;;
    --log-name) LOG_NAME=$(flag_value "$@"); shift 2 ;;
    --detach) DETACH=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; OVERRIDES+=("$@"); break ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

require "$NAME" --name
require "$ZONE" --zone
require "$CONFIG" --config
validate_name "$NAME"
validate_zone "$ZONE"
if [[ -n $NWORKERS ]]; then
  validate_count "$NWORKERS" --workers
elif [[ -n $TYPE ]]; then
  NWORKERS=$(workers_for_type "$TYPE") ||
    usage_error "unknown --type '$TYPE' (not in the worker table); pass --workers N"
else
  usage_error "--type or --workers is required"
fi
# configs/<job>.py[:preset], a path inside the repo on the workers.
[[ $CONFIG =~ ^[A-Za-z0-9_./-]+\.py(:[A-Za-z0-9_.,=-]+)?$ ]] ||
  usage_error "--config '$CONFIG' should look like configs/<job>.py[:preset]"
if [[ -z $LOG_NAME ]]; then
  job=${CONFIG##*/}
  LOG_NAME=${job%%.py*}-$(date -u +%Y%m%dT%H%M%SZ)
fi
[[ $LOG_NAME =~ ^[A-Za-z0-9_.-]+$ ]] ||
  usage_error "--log-name '$LOG_NAME' may only use letters, digits, '_', '.', '-'"
need_gcloud

ARGS=("--config=$CONFIG")
if [[ -n $WORKDIR ]]; then ARGS+=("--config.workdir=$WORKDIR"); fi
ARGS+=(${OVERRIDES[@]+"${OVERRIDES[@]}"})

# A multi-host run needs one workdir that every host sees: a gs:// bucket.
effective_workdir=''
for a in "${ARGS[@]}"; do
  case $a in --config.workdir=*) effective_workdir=${a#--config.workdir=} ;; esac
done
if ((NWORKERS > 1)) && [[ $effective_workdir != gs://* ]]; then
  printf 'warning: %s workers but no gs:// workdir (--workdir gs://BUCKET/PATH); each host would write its own local files and a preempted run could not resume\n' \
    "$NWORKERS" >&2
fi

LOG="$REMOTE_LOGS/$LOG_NAME.log"
PYCMD="python -m drl_jax.main $(quote_cmd "${ARGS[@]}")"
REMOTE="cd $REMOTE_REPO && . $REMOTE_VENV/bin/activate && mkdir -p $REMOTE_LOGS"
REMOTE+=" && ln -sfn $LOG_NAME.log $REMOTE_LOGS/latest.log"
if ((DETACH)); then
  # nohup + redirections: ssh returns at once, the run outlives the session.
  REMOTE+=" && { PYTHONUNBUFFERED=1 nohup $PYCMD >>$LOG 2>&1 </dev/null & }"
else
  # Unbuffered so that lines reach the terminal as they are printed.
  REMOTE+=" && set -o pipefail && PYTHONUNBUFFERED=1 $PYCMD 2>&1 | tee -a $LOG"
fi

run_on_workers "$NAME" "$ZONE" "$PROJECT" "$NWORKERS" "$REMOTE"
if ((DETACH)) && [[ $DRY_RUN != 1 ]]; then
  follow=("$SCRIPT_DIR/logs.sh" --name "$NAME" "--zone=$ZONE" --log-name "$LOG_NAME")
  if [[ -n $PROJECT ]]; then follow+=("--project=$PROJECT"); fi
  printf 'started in the background; follow it with:\n  %s\n' "$(quote_cmd "${follow[@]}")" >&2
fi
