#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# Copy drl_jax results out of a workdir: to a gs:// bucket, or back home.
#
#   # workdir already in a bucket -> a local folder (needs no TPU VM):
#   launch/tpu_vm/fetch.sh --workdir gs://my-bucket/drl/transfer --dest ./results
#   # workdir on worker 0's disk -> a bucket (copied by worker 0 itself):
#   launch/tpu_vm/fetch.sh --name drl-pod --zone us-central2-b \
#       --workdir drl_jax/workdir --bucket gs://my-bucket/drl/transfer
#   # workdir on worker 0's disk -> here (scp):
#   launch/tpu_vm/fetch.sh --name drl-pod --zone us-central2-b \
#       --workdir drl_jax/workdir --dest ./results
#
# A workdir on a worker's disk is a path relative to that worker's home
# (or absolute). Copies use `gcloud storage cp -r` (bucket side) and
# `gcloud compute tpus tpu-vm scp --recurse` (worker -> here).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

usage() {
  cat <<'EOF'
usage: fetch.sh --workdir DIR (--bucket gs://BUCKET/PATH | --dest LOCAL_DIR)
                [--name NAME --zone ZONE] [--worker I] [--project PROJECT] [--dry-run]

Copy a drl_jax workdir to a gs:// bucket (--bucket) or to this machine (--dest).

  --workdir DIR      the run's workdir: gs://... or a path on the worker
                     (absolute, or relative to its home: drl_jax/workdir)
  --bucket gs://...  destination in Cloud Storage (gcloud storage cp -r)
  --dest DIR         destination folder on this machine (created if missing)
  --name NAME        TPU node name (needed when --workdir is on the worker)
  --zone ZONE        its zone (needed when --workdir is on the worker)
  --worker I         the worker whose disk holds the workdir (default 0)
  --project PROJECT  Google Cloud project (default: gcloud's configured one)
  --dry-run          print every command instead of running it
  -h, --help         show this help
EOF
}

NAME='' ZONE='' PROJECT='' WORKDIR='' BUCKET='' DEST='' WORKER=0
while (($#)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
  esac
  case $1 in
    --name) NAME=$(flag_value "$@"); shift 2 ;;
    --zone) ZONE=$(flag_value "$@"); shift 2 ;;
    --project) PROJECT=$(flag_value "$@"); shift 2 ;;
    --workdir) WORKDIR=$(flag_value "$@"); shift 2 ;;
    --bucket) BUCKET=$(flag_value "$@"); shift 2 ;;
    --dest) DEST=$(flag_value "$@"); shift 2 ;;
    --worker) WORKER=$(flag_value "$@"); shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

require "$WORKDIR" --workdir
if [[ -n $BUCKET && -n $DEST ]] || [[ -z $BUCKET && -z $DEST ]]; then
  usage_error "give exactly one of --bucket and --dest"
fi
[[ -z $BUCKET || $BUCKET =~ ^gs://[^/[:space:]]+(/.*)?$ ]] ||
  usage_error "--bucket must be gs://BUCKET[/PATH], got '$BUCKET'"
[[ $WORKER =~ ^(0|[1-9][0-9]*)$ ]] || usage_error "--worker must be a worker index, got '$WORKER'"

PROJECT_FLAG=()
if [[ -n $PROJECT ]]; then PROJECT_FLAG=("--project=$PROJECT"); fi

if [[ $WORKDIR == gs://* ]]; then
  # Bucket to bucket, or bucket to here: no TPU VM involved.
  need_gcloud
  if [[ -n $BUCKET ]]; then
    [[ ${WORKDIR%/} != "${BUCKET%/}" ]] || usage_error "--workdir and --bucket are the same place"
    run gcloud storage cp -r ${PROJECT_FLAG[@]+"${PROJECT_FLAG[@]}"} "$WORKDIR" "$BUCKET"
  else
    run mkdir -p "$DEST"
    run gcloud storage cp -r ${PROJECT_FLAG[@]+"${PROJECT_FLAG[@]}"} "$WORKDIR" "$DEST"
  fi
  exit 0
fi

# The workdir is on a worker's disk.
[[ $WORKDIR != *..* && $WORKDIR =~ ^[A-Za-z0-9_./-]+$ ]] ||
  usage_error "--workdir '$WORKDIR' should be gs://... or a path on the worker (absolute, or relative to its home; no ~ or ..)"
require "$NAME" "--name (the workdir is on a worker)"
require "$ZONE" "--zone (the workdir is on a worker)"
validate_name "$NAME"
validate_zone "$ZONE"
need_gcloud
mapfile -t SCOPE < <(gcloud_scope "$ZONE" "$PROJECT")

if [[ -n $BUCKET ]]; then
  # The worker copies straight to the bucket (its service account needs
  # write access to it); nothing passes through this machine.
  REMOTE="gcloud storage cp -r $(quote_cmd "$WORKDIR" "$BUCKET")"
  run gcloud compute tpus tpu-vm ssh "$NAME" "${SCOPE[@]}" "--worker=$WORKER" --command "$REMOTE"
else
  run mkdir -p "$DEST"
  run gcloud compute tpus tpu-vm scp --recurse "$NAME:$WORKDIR" "$DEST" \
    "${SCOPE[@]}" "--worker=$WORKER"
fi
