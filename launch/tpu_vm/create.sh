#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Create a Cloud TPU VM (single host) or pod slice (several hosts) for drl_jax.
#
#   launch/tpu_vm/create.sh --name drl-pod --zone us-central2-b --type v4-32 --spot
#
# Wraps `gcloud compute tpus tpu-vm create`. See launch/tpu_vm/README.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

usage() {
  cat <<'EOF'
usage: create.sh --name NAME --zone ZONE --type TYPE [--runtime-version VERSION]
                 [--project PROJECT] [--spot | --preemptible] [--dry-run]
                 [-- EXTRA_GCLOUD_FLAGS...]

Create a TPU VM or pod slice with `gcloud compute tpus tpu-vm create`.

  --name NAME               TPU node name (lowercase letters, digits, '-')
  --zone ZONE               zone with capacity for TYPE, e.g. us-central2-b
  --type TYPE               accelerator type, e.g. v4-8, v4-32, v5litepod-16,
                            v5p-16, v6e-8
  --runtime-version VER     TPU VM software version (gcloud --version). Default
                            per generation: v2/v3/v4 tpu-ubuntu2204-base,
                            v5litepod v2-alpha-tpuv5-lite, v5p v2-alpha-tpuv5,
                            v6e v2-alpha-tpuv6e
  --project PROJECT         Google Cloud project (default: gcloud's configured one)
  --spot                    create a Spot TPU (can be reclaimed at any time)
  --preemptible             create a preemptible TPU (older form of --spot)
  --dry-run                 print the gcloud command instead of running it
  -h, --help                show this help
  -- FLAGS...               passed verbatim to `gcloud ... tpu-vm create`
                            (e.g. -- --network=my-net --labels=team=drl)
EOF
}

NAME='' ZONE='' TYPE='' RUNTIME='' PROJECT='' CAPACITY=''
EXTRA=()
while (($#)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;  # --flag=v -> --flag v
  esac
  case $1 in
    --name) NAME=$(flag_value "$@"); shift 2 ;;
    --zone) ZONE=$(flag_value "$@"); shift 2 ;;
    --type) TYPE=$(flag_value "$@"); shift 2 ;;
    --runtime-version) RUNTIME=$(flag_value "$@"); shift 2 ;;
    --project) PROJECT=$(flag_value "$@"); shift 2 ;;
    --spot | --preemptible)
      [[ -z $CAPACITY || $CAPACITY == "$1" ]] || usage_error "--spot and --preemptible exclude each other"
      CAPACITY=$1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

require "$NAME" --name
require "$ZONE" --zone
require "$TYPE" --type
validate_name "$NAME"
validate_zone "$ZONE"
if [[ -z $RUNTIME ]]; then
  RUNTIME=$(default_runtime_for_type "$TYPE") ||
    usage_error "no default --runtime-version for --type '$TYPE'; pass --runtime-version"
fi
need_gcloud

if NWORKERS=$(workers_for_type "$TYPE"); then
  printf '# %s: %s worker(s) (hosts), numbered 0..%s\n' "$TYPE" "$NWORKERS" $((NWORKERS - 1))
else
  printf '# %s: not in the worker table of common.sh; pass --workers N to run.sh\n' "$TYPE" >&2
fi

mapfile -t SCOPE < <(gcloud_scope "$ZONE" "$PROJECT")
CMD=(gcloud compute tpus tpu-vm create "$NAME" "${SCOPE[@]}"
  "--accelerator-type=$TYPE" "--version=$RUNTIME")
if [[ -n $CAPACITY ]]; then CMD+=("$CAPACITY"); fi
CMD+=(${EXTRA[@]+"${EXTRA[@]}"})
run "${CMD[@]}"
