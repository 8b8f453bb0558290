#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# Delete a TPU VM / pod slice (all its workers and their local disks).
#
#   launch/tpu_vm/delete.sh --name drl-pod --zone us-central2-b --yes
#
# Refuses to run without --yes (except with --dry-run, which deletes nothing).
# Results in a gs:// workdir are not touched; copy anything kept on the
# workers' disks first (fetch.sh).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$SCRIPT_DIR/common.sh"

usage() {
  cat <<'EOF'
usage: delete.sh --name NAME --zone ZONE [--project PROJECT] (--yes | --dry-run)

Delete the TPU VM NAME with `gcloud compute tpus tpu-vm delete`.

  --name NAME        TPU node name
  --zone ZONE        its zone
  --project PROJECT  Google Cloud project (default: gcloud's configured one)
  --yes              really delete (required unless --dry-run)
  --dry-run          print the command instead of running it
  -h, --help         show this help
EOF
}

NAME='' ZONE='' PROJECT='' YES=0
while (($#)); do
  case $1 in
    --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}"; continue ;;
  esac
  case $1 in
    --name) NAME=$(flag_value "$@"); shift 2 ;;
    --zone) ZONE=$(flag_value "$@"); shift 2 ;;
    --project) PROJECT=$(flag_value "$@"); shift 2 ;;
    --yes) YES=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

require "$NAME" --name
require "$ZONE" --zone
validate_name "$NAME"
validate_zone "$ZONE"
if [[ $DRY_RUN != 1 && $YES != 1 ]]; then
  usage_error "deleting '$NAME' in $ZONE needs --yes (or try --dry-run first)"
fi
need_gcloud

mapfile -t SCOPE < <(gcloud_scope "$ZONE" "$PROJECT")
# --quiet: --yes was the confirmation; gcloud would otherwise prompt again.
run gcloud compute tpus tpu-vm delete "$NAME" "${SCOPE[@]}" --quiet
